# A tiny HRNet + DARK heatmap model for tests: 64x96 (w x h) input, 16x24 heatmaps, COCO-17
# keypoints, branch widths 8/16/32/64, one block per branch (HRNet needs input sides
# divisible by 32).  Same structure and parameter naming as the W48 model, orders of
# magnitude cheaper.
default_scope = 'mmpose'

codec = dict(
    type='MSRAHeatmap',
    input_size=(64, 96),
    heatmap_size=(16, 24),
    sigma=2,
    unbiased=True)

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='HRNet',
        in_channels=3,
        extra=dict(
            stage1=dict(
                num_modules=1,
                num_branches=1,
                block='BOTTLENECK',
                num_blocks=(1, ),
                num_channels=(8, )),
            stage2=dict(
                num_modules=1,
                num_branches=2,
                block='BASIC',
                num_blocks=(1, 1),
                num_channels=(8, 16)),
            stage3=dict(
                num_modules=1,
                num_branches=3,
                block='BASIC',
                num_blocks=(1, 1, 1),
                num_channels=(8, 16, 32)),
            stage4=dict(
                num_modules=1,
                num_branches=4,
                block='BASIC',
                num_blocks=(1, 1, 1, 1),
                num_channels=(8, 16, 32, 64))),
    ),
    head=dict(
        type='HeatmapHead',
        in_channels=8,
        out_channels=17,
        deconv_out_channels=None,
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(
        flip_test=True,
        flip_mode='heatmap',
        shift_heatmap=True,
    ))

val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
test_pipeline = val_pipeline
