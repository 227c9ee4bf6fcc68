# Tiny top-down HRNet + DARK on a toy dataset: trains on a CPU in seconds.
#
#   python -c "from synthpose.finetune.toy_data import write_toy_dataset as w; w('data/toy')"
#   ocb finetune configs/synthpose/tiny_cpu.py --data data/toy -o work_dirs/tiny
#
# The data layout is the one `ocb generate-dataset` writes: <data>/annotations/{train,val}.json,
# <data>/metainfo.json and the images under <data>/images/.  `--data` replaces `data_root`.
# The metainfo is read as JSON (a data file is never executed as python).
default_scope = "mmpose"
custom_imports = dict(imports=["opencapbench.pose.registry_all"], allow_failed_imports=False)

data_root = "data/toy/"
metainfo = dict(from_file=data_root + "metainfo.json")
num_keypoints = 5
input_size = (64, 64)  # (w, h); HRNet needs multiples of 32
heatmap_size = (16, 16)

# ---------------------------------------------------------------- schedule
train_cfg = dict(by_epoch=True, max_epochs=40, val_interval=10)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type="Adam", lr=2e-3))
param_scheduler = [
    dict(type="LinearLR", begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type="MultiStepLR", begin=0, end=40, milestones=[30, 36], gamma=0.1, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=16)

# ---------------------------------------------------------------- runtime
default_hooks = dict(
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=10),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(
        type="CheckpointHook",
        interval=10,
        save_best="pck/PCK@0.1",
        rule="greater",
        max_keep_ckpts=2,
    ),
    sampler_seed=dict(type="DistSamplerSeedHook"),
)
env_cfg = dict(
    cudnn_benchmark=False, mp_cfg=dict(mp_start_method="fork"), dist_cfg=dict(backend="gloo")
)
vis_backends = [dict(type="LocalVisBackend")]
visualizer = dict(type="Visualizer", vis_backends=vis_backends)
log_processor = dict(type="LogProcessor", window_size=10, by_epoch=True, num_digits=6)
log_level = "INFO"
load_from = None
resume = False
randomness = dict(seed=0)

# ---------------------------------------------------------------- model
codec = dict(
    type="MSRAHeatmap", input_size=input_size, heatmap_size=heatmap_size, sigma=1.5, unbiased=True
)
model = dict(
    type="TopdownPoseEstimator",
    data_preprocessor=dict(
        type="PoseDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
    ),
    backbone=dict(
        type="HRNet",
        in_channels=3,
        extra=dict(
            stage1=dict(
                num_modules=1,
                num_branches=1,
                block="BOTTLENECK",
                num_blocks=(1,),
                num_channels=(16,),
            ),
            stage2=dict(
                num_modules=1,
                num_branches=2,
                block="BASIC",
                num_blocks=(1, 1),
                num_channels=(16, 32),
            ),
            stage3=dict(
                num_modules=1,
                num_branches=3,
                block="BASIC",
                num_blocks=(1, 1, 1),
                num_channels=(16, 32, 64),
            ),
            stage4=dict(
                num_modules=1,
                num_branches=4,
                block="BASIC",
                num_blocks=(1, 1, 1, 1),
                num_channels=(16, 32, 64, 128),
                multiscale_output=False,
            ),
        ),
    ),
    head=dict(
        type="HeatmapHead",
        in_channels=16,
        out_channels=num_keypoints,
        deconv_out_channels=None,
        loss=dict(type="KeypointMSELoss", use_target_weight=True),
        decoder=codec,
    ),
    test_cfg=dict(flip_test=True, flip_mode="heatmap", shift_heatmap=True),
)

# ---------------------------------------------------------------- data
dataset_type = "SynthPoseDataset"
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale"),
    dict(type="RandomFlip", direction="horizontal"),
    dict(
        type="RandomHalfBody",
        min_total_keypoints=5,
        min_upper_keypoints=2,
        min_lower_keypoints=2,
        prob=0.1,
    ),
    dict(type="RandomBBoxTransform", scale_factor=(0.8, 1.2), rotate_factor=20.0, rotate_prob=0.5),
    dict(type="TopdownAffine", input_size=input_size),
    dict(type="GenerateTarget", encoder=codec),
    dict(type="PackPoseInputs"),
]
val_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale"),
    dict(type="TopdownAffine", input_size=input_size),
    dict(type="PackPoseInputs"),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="annotations/train.json",
        data_prefix=dict(img="images/"),
        metainfo=metainfo,
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="annotations/val.json",
        data_prefix=dict(img="images/"),
        metainfo=metainfo,
        test_mode=True,
        pipeline=val_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = [
    dict(type="PCKAccuracy", thr=[0.05, 0.1, 0.2]),
    dict(type="CocoMetric", ann_file=data_root + "annotations/val.json"),
]
test_evaluator = val_evaluator
