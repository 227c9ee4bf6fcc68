# SynthPose: HRNet-W48 + DARK, 384x288, 52 keypoints (COCO-17 + 35 anatomical markers),
# finetuned from the COCO HRNet-W48 DARK checkpoint (backbone only) on a mix of synthetic
# SMPL-X annotations (ocb generate-dataset) and COCO train2017, validated on RICH.
# Follows the published OpenCapBench/SynthPose training config (see docs/finetune.md):
# Adam 5e-4, 500-iter linear warm-up from 0.001, MultiStepLR [14, 20] x0.1, 30 epochs,
# batch 32 on one GPU with AMP, sources mixed 1:1:1:1.
#
#   ocb finetune configs/synthpose/td-hm_hrnet-w48_dark-8xb32-30e_synthpose-384x288.py \
#       --data /path/to/data --amp fp16
#
# Expected layout under --data (it replaces `data_root`):
#   synthpose/<source>/annotations/{train,val}.json   written by `ocb generate-dataset`
#   synthpose/<source>/synthpose52_metainfo.json       (all sources share the marker set; read
#                                                       as JSON, never executed)
#   synthpose/infinity/images/infinity/<video>/...     frames exported by generate-dataset
#   bedlam/<scene>/png/...   3dpw/imageFiles/...   rich/images/...   (original images)
#   coco/annotations/person_keypoints_train2017.json, coco/train2017/
default_scope = "mmpose"
custom_imports = dict(imports=["opencapbench.pose.registry_all"], allow_failed_imports=False)

data_root = "data/"
synthpose_root = data_root + "synthpose/"
metainfo = dict(from_file=synthpose_root + "bedlam/synthpose52_metainfo.json")
num_keypoints = 52
input_size = (288, 384)  # (w, h)
heatmap_size = (72, 96)

# ---------------------------------------------------------------- schedule
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=3)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type="Adam", lr=5e-4))
param_scheduler = [
    dict(type="LinearLR", begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type="MultiStepLR", begin=0, end=30, milestones=[14, 20], gamma=0.1, by_epoch=True),
]
# the published runs used batch 32 on 1 GPU; scale the LR with `--cfg-options auto_scale_lr.enable=True`
auto_scale_lr = dict(base_batch_size=512)

# ---------------------------------------------------------------- runtime
default_hooks = dict(
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=50),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(
        type="CheckpointHook", interval=3, save_best="coco/AP", rule="greater", max_keep_ckpts=3
    ),
    sampler_seed=dict(type="DistSamplerSeedHook"),
)
custom_hooks = [dict(type="SyncBuffersHook")]
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    dist_cfg=dict(backend="nccl"),
)
vis_backends = [dict(type="LocalVisBackend")]
visualizer = dict(type="Visualizer", vis_backends=vis_backends)
log_processor = dict(type="LogProcessor", window_size=50, by_epoch=True, num_digits=6)
log_level = "INFO"
load_from = None
resume = False

# ---------------------------------------------------------------- model
codec = dict(
    type="MSRAHeatmap", input_size=input_size, heatmap_size=heatmap_size, sigma=3, unbiased=True
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
                num_blocks=(4,),
                num_channels=(64,),
            ),
            stage2=dict(
                num_modules=1,
                num_branches=2,
                block="BASIC",
                num_blocks=(4, 4),
                num_channels=(48, 96),
            ),
            stage3=dict(
                num_modules=4,
                num_branches=3,
                block="BASIC",
                num_blocks=(4, 4, 4),
                num_channels=(48, 96, 192),
            ),
            stage4=dict(
                num_modules=3,
                num_branches=4,
                block="BASIC",
                num_blocks=(4, 4, 4, 4),
                num_channels=(48, 96, 192, 384),
                multiscale_output=False,
            ),
        ),
        init_cfg=dict(
            type="Pretrained",
            prefix="backbone",
            checkpoint="https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/"
            "coco/td-hm_hrnet-w48_dark-8xb32-210e_coco-384x288-39c3c381_20220916.pth",
        ),
    ),
    head=dict(
        type="HeatmapHead",
        in_channels=48,
        out_channels=num_keypoints,
        deconv_out_channels=None,
        loss=dict(type="KeypointMSELoss", use_target_weight=True),
        decoder=codec,
    ),
    test_cfg=dict(flip_test=True, flip_mode="heatmap", shift_heatmap=True),
)

# ---------------------------------------------------------------- data
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale"),
    dict(type="RandomFlip", direction="horizontal"),
    dict(type="RandomHalfBody"),
    dict(type="RandomBBoxTransform"),
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


def _synthpose_source(name, image_prefix):
    return dict(
        type="SynthPoseDataset",
        data_root=synthpose_root + name + "/",
        ann_file="annotations/train.json",
        data_prefix=dict(img=image_prefix),
        metainfo=metainfo,
        pipeline=[],
    )


dataset_infinity = _synthpose_source("infinity", synthpose_root + "infinity/images/")
dataset_bedlam = _synthpose_source("bedlam", data_root + "bedlam/")
dataset_3dpw = _synthpose_source("3dpw", data_root + "3dpw/")
dataset_coco = dict(
    type="CocoDataset",
    data_root=data_root + "coco/",
    ann_file="annotations/person_keypoints_train2017.json",
    data_prefix=dict(img="train2017/"),
    pipeline=[
        dict(
            type="KeypointConverter",
            num_keypoints=num_keypoints,
            mapping=[(i, i) for i in range(17)],
        )
    ],
)
del _synthpose_source

train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type="MultiSourceSampler", batch_size=32, source_ratio=[1, 1, 1, 1], shuffle=True),
    dataset=dict(
        type="CombinedDataset",
        metainfo=metainfo,
        datasets=[dataset_infinity, dataset_bedlam, dataset_3dpw, dataset_coco],
        pipeline=train_pipeline,
        test_mode=False,
    ),
)
val_ann = synthpose_root + "rich/annotations/val.json"
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False, round_up=False),
    dataset=dict(
        type="SynthPoseDataset",
        data_root=synthpose_root + "rich/",
        ann_file="annotations/val.json",
        data_prefix=dict(img=data_root + "rich/"),
        metainfo=metainfo,
        test_mode=True,
        pipeline=val_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = [
    dict(type="PCKAccuracy", thr=[0.05, 0.1, 0.2]),
    dict(type="CocoMetric", ann_file=val_ann),
]
test_evaluator = val_evaluator
