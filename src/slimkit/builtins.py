"""The built-in catalog: one declaration per model, dataset, penalty, edit, stage, term and task.

Only strings live here (``"package.module:attr"`` references and metadata), so importing this
module imports nothing but :mod:`slimkit.registry`. :meth:`slimkit.registry.Registry.get` imports
this module on first use and imports an implementation only when a recipe or a caller asks for it.
Adding a built-in is one module plus one line here; third parties use the ``slimkit.plugins``
entry-point group instead (see :mod:`slimkit.registry`).

Penalty metadata is what a recipe can be checked against without torch: ``kind``
(``elementwise`` or ``group``), ``subgradient`` (usable by ``method: subgradient``), ``prox``
(closed-form proximal map), ``args`` (constructor keywords) and ``required`` (keywords without a
default). ``tests/test_registry_catalog.py`` checks the metadata against the implementations.

Example:
    >>> from slimkit.registry import MODELS, PENALTIES, STAGES
    >>> "resnet20" in MODELS, PENALTIES.meta("l0")["subgradient"]
    (True, False)
    >>> STAGES.get("train").config.__name__
    'TrainStageConfig'
"""

from slimkit.registry import DATASETS, EDITS, MODELS, PENALTIES, STAGES, TASKS, TERMS

# fmt: off
# -- models (listed by `slimkit models` in this order) ------------------------------------------
_R, _P = "slimkit.models.resnet_cifar", "slimkit.models.preact_resnet"
MODELS.declare("resnet20", f"{_R}:resnet20", description="CIFAR ResNet-20, basic blocks 16/32/64, 0.27 M params")
MODELS.declare("resnet32", f"{_R}:resnet32", description="CIFAR ResNet-32, basic blocks 16/32/64, 0.46 M params")
MODELS.declare("resnet44", f"{_R}:resnet44", description="CIFAR ResNet-44, basic blocks 16/32/64, 0.66 M params")
MODELS.declare("resnet56", f"{_R}:resnet56", description="CIFAR ResNet-56, basic blocks 16/32/64, 0.85 M params")
MODELS.declare("resnet110", f"{_R}:resnet110", description="CIFAR ResNet-110, basic blocks 16/32/64, 1.7 M params")
MODELS.declare("resnet8_tiny", f"{_R}:resnet8_tiny", description="tiny CIFAR ResNet-8, widths 4/8/16, option B (tests)")
MODELS.declare("resnet8a_tiny", f"{_R}:resnet8a_tiny", description="tiny CIFAR ResNet-8, widths 4/8/16, option A (tests)")
MODELS.declare("resnet164", f"{_P}:resnet164", description="pre-activation bottleneck ResNet-164 (Network Slimming), 1.70 M params")
MODELS.declare("resnet_bottleneck_tiny", f"{_P}:resnet_bottleneck_tiny", description="tiny pre-activation bottleneck ResNet (tests)")
MODELS.declare("vgg11", "slimkit.models.vgg:vgg11", description="VGG-11 with BN, CIFAR form (Network Slimming)")
MODELS.declare("vgg13", "slimkit.models.vgg:vgg13", description="VGG-13 with BN, CIFAR form (Network Slimming)")
MODELS.declare("vgg16", "slimkit.models.vgg:vgg16", description="VGG-16 with BN, CIFAR form (Network Slimming)")
MODELS.declare("vgg19", "slimkit.models.vgg:vgg19", description="VGG-19 with BN, CIFAR form (Network Slimming), 20,035,018 params")
MODELS.declare("vgg_tiny", "slimkit.models.vgg:vgg_tiny", description="tiny VGG-BN, cfg [8, M, 16, M, 32] (tests)")
MODELS.declare("densenet40", "slimkit.models.densenet:densenet40", description="DenseNet-40, growth 12, no bottleneck/compression, 1.0 M params")
MODELS.declare("densenet_bc100", "slimkit.models.densenet:densenet_bc100", description="DenseNet-BC-100, growth 12, bottleneck + compression 0.5, 0.8 M")
MODELS.declare("densenet_tiny", "slimkit.models.densenet:densenet_tiny", description="tiny DenseNet, depth 10, growth 4 (tests)")
MODELS.declare("densenet_bc_tiny", "slimkit.models.densenet:densenet_bc_tiny", description="tiny DenseNet-BC, depth 16, growth 4 (tests)")
MODELS.declare("wrn", "slimkit.models.wide_resnet:wrn", description="Wide ResNet; kwargs depth, widen_factor, dropout (default WRN-28-10)")
MODELS.declare("wrn16_2", "slimkit.models.wide_resnet:wrn16_2", description="Wide ResNet WRN-16-2, 0.69 M params")
MODELS.declare("wrn16_4", "slimkit.models.wide_resnet:wrn16_4", description="Wide ResNet WRN-16-4, 2.7 M params")
MODELS.declare("wrn28_10", "slimkit.models.wide_resnet:wrn28_10", description="Wide ResNet WRN-28-10, 36.5 M params")
MODELS.declare("wrn_tiny", "slimkit.models.wide_resnet:wrn_tiny", description="tiny Wide ResNet, depth 10, widen 1, base widths 8/16/32 (tests)")
MODELS.declare("lenet5", "slimkit.models.lenet:lenet5", description="LeNet-5 (conv 6-16, fc 120-84) for 32x32 inputs")
_F, _H = "slimkit.models.fourier.affnet", "slimkit.models.fourier.hafidaf"
MODELS.declare("affnet_et", f"{_F}:affnet_et", description="AFFNet-ET (official config xx_small), 256² ImageNet strides, 1,436,264 params at 1000 classes")
MODELS.declare("affnet_t", f"{_F}:affnet_t", description="AFFNet-T (official config x_small), 256² ImageNet strides, 2,654,232 params at 1000 classes")
MODELS.declare("affnet", f"{_F}:affnet", description="AFFNet (official config small), 256² ImageNet strides, 5,568,696 params at 1000 classes")
MODELS.declare("afidaf_t", f"{_F}:afidaf_t", description="AFIDAF-T (reconstructed): AFFNet-T + image-domain filter, 2,994,072 params at 1000 classes")
MODELS.declare("afidaf", f"{_F}:afidaf", description="AFIDAF (reconstructed): AFFNet + image-domain filter, 6,343,288 params at 1000 classes")
MODELS.declare("idaf", f"{_F}:idaf", description="IDAF (reconstructed): AFIDAF without the Fourier mask, 6,033,272 params at 1000 classes")
MODELS.declare("affnet_et_cifar", f"{_F}:affnet_et_cifar", description="AFFNet-ET for 32x32 (stem and layer2 stride 1), 865,034 params at 10 classes")
MODELS.declare("affnet_t_cifar", f"{_F}:affnet_t_cifar", description="AFFNet-T for 32x32 (stem and layer2 stride 1), 1,892,922 params at 10 classes")
MODELS.declare("afidaf_t_cifar", f"{_F}:afidaf_t_cifar", description="AFIDAF-T for 32x32 (reconstructed image filter), stem and layer2 stride 1")
MODELS.declare("idaf_t_cifar", f"{_F}:idaf_t_cifar", description="IDAF-T for 32x32: AFIDAF-T without the Fourier mask")
MODELS.declare("afidaf_xs_cifar", f"{_F}:afidaf_xs_cifar", description="AFIDAF-XS for 32x32 (ours: widths 48/64/96, a CPU-budget size for the CIFAR recipes)")
MODELS.declare("affnet_xs_cifar", f"{_F}:affnet_xs_cifar", description="AFFNet-XS for 32x32 (ours: widths 56/72/96, the params of AFIDAF-XS within 5 %)")
MODELS.declare("idaf_xs_cifar", f"{_F}:idaf_xs_cifar", description="IDAF-XS for 32x32: AFIDAF-XS without the Fourier mask")
MODELS.declare("affnet_tiny", f"{_F}:affnet_tiny", description="tiny AFFNet for 32x32 (widths 16/16/24, one block per stage; tests, digits)")
MODELS.declare("afidaf_tiny", f"{_F}:afidaf_tiny", description="tiny AFIDAF for 32x32 (widths 16/16/24, one block per stage; tests, digits)")
MODELS.declare("hafidaf_mini", f"{_H}:hafidaf_mini", description="HAFIDAF mini (reconstructed): Swin shape 48/96/192/384, depths 2/2/2/2, no attention, 32x32")
MODELS.declare("swin_mini", "slimkit.models.vit:swin_mini", description="timm SwinTransformer mini: 48/96/192/384, depths 2/2/2/2, window 4, patch 2, 32x32")
MODELS.declare("vit_cifar", "slimkit.models.vit:vit_cifar", description="timm ViT for 32x32: patch 4, embed 192, depth 7, 3 heads (SiDT, CIFAR-100)")
MODELS.declare("vit_tiny_digits", "slimkit.models.vit:vit_tiny_digits", description="tiny timm ViT for 32x32 digits: patch 8, embed 48, depth 3, 3 heads (tests)")
MODELS.declare("swin_cifar", "slimkit.models.vit:swin_cifar", description="timm Swin for 32x32: patch 2, window 4, depths 2/2/2, embed 64, heads 2/4/8")
MODELS.declare("darts_supernet", "slimkit.nas.supernet:darts_supernet", description="DARTS search supernet (8 ops x 14 edges, non-affine BN); kwargs cells, channels")
MODELS.declare("darts_net", "slimkit.nas.network:darts_net", description="network from a DARTS genotype (darts_v2, a genotype.json...); kwargs cells, channels, auxiliary")
MODELS.declare("darts_supernet_tiny", "slimkit.nas.supernet:darts_supernet_tiny", description="tiny DARTS supernet, 3 cells of 2 channels (tests)")
MODELS.declare("darts_net_tiny", "slimkit.nas.network:darts_net_tiny", description="tiny darts_net, DARTS-V2 cells, 3 cells of 4 channels (tests)")
MODELS.declare("fcos", "slimkit.models.detection:build_fcos", description="FCOS detector (anchor-free) with an FPN on a zoo/timm/tv backbone")
MODELS.declare("seg_lraspp", "slimkit.models.segmentation:build_seg_lraspp", description="semantic segmentation: LR-ASPP head on a zoo/timm/tv backbone")

# -- datasets ---------------------------------------------------------------------------------
DATASETS.declare("cew_eyes", "slimkit.data.cew_eyes:load_cew_eyes", description="CEW eye patches, 24x24 gray, 0=closed 1=open; root= required")
DATASETS.declare("cifar10", "slimkit.data.cifar:load_cifar10", description="CIFAR-10 (50000 train / 10000 test, 32x32 RGB); root= or download")
DATASETS.declare("cifar100", "slimkit.data.cifar:load_cifar100", description="CIFAR-100 fine labels (50000 train / 10000 test); root= or download")
DATASETS.declare("coco", "slimkit.data.coco:load_coco", description="any COCO-format dataset (root required; e.g. COCO 2017), letterboxed")
DATASETS.declare("coco128", "slimkit.data.coco:load_coco128", description="COCO128 (128 train / val images, 80 categories, VOC label maps), letterboxed")
DATASETS.declare("digits", "slimkit.data.digits:load_digits_splits", description="scikit-learn 8x8 digits upsampled to 3x32x32 (1347 train / 450 test)")
DATASETS.declare("imagefolder", "slimkit.data.imagefolder:load_imagefolder", description="your own images: root/train/<class>/*.png and root/test|val/...")
DATASETS.declare("eye_mix", "slimkit.data.eye_mix:load_eye_mix", description="synthetic eyes (exact openness) + real cew_eyes/mrl_eyes open/closed + a monotonicity sweep; targets [value, domain, identity]")
DATASETS.declare("mrl_eyes", "slimkit.data.mrl_eyes:mrl_eyes", description="MRL eye images, open/closed; root= required")
DATASETS.declare("npz", "slimkit.data.npz:load_npz", description="your own arrays: root=DIR with train.npz/test.npz, or one .npz file")
DATASETS.declare("synthetic_eyes", "slimkit.data.synthetic_eyes:load_synthetic_eyes", description="rendered eye crops with exact openness (slimkit.eye), ir/visible grey; no files")
DATASETS.declare("shapes", "slimkit.data.shapes:load_shapes", description="procedural rectangles/ellipses/triangles in COCO format (no download)")

# -- penalties --------------------------------------------------------------------------------
_SG = ("elem_weight", "group_weight", "group_weights")
PENALTIES.declare("l1", "slimkit.penalties.l1:L1", kind="elementwise", subgradient=True, prox=True, args=(), required=())
PENALTIES.declare("l0", "slimkit.penalties.l0:L0", kind="elementwise", subgradient=False, prox=True, args=(), required=())
PENALTIES.declare("lp", "slimkit.penalties.lp:Lp", kind="elementwise", subgradient=True, prox=True, args=("p", "n_iter"), required=("p",))
PENALTIES.declare("l1_2", "slimkit.penalties.registry:l1_2", kind="elementwise", subgradient=True, prox=True, args=(), required=())
PENALTIES.declare("l2_3", "slimkit.penalties.registry:l2_3", kind="elementwise", subgradient=True, prox=True, args=(), required=())
PENALTIES.declare("tl1", "slimkit.penalties.transformed_l1:TransformedL1", kind="elementwise", subgradient=True, prox=True, args=("a",), required=())
PENALTIES.declare("mcp", "slimkit.penalties.mcp:MCP", kind="elementwise", subgradient=True, prox=True, args=("a", "lam"), required=())
PENALTIES.declare("scad", "slimkit.penalties.scad:SCAD", kind="elementwise", subgradient=True, prox=True, args=("a", "lam"), required=())
PENALTIES.declare("group_l21", "slimkit.penalties.group_l21:GroupL21", kind="group", subgradient=True, prox=True, args=("group_weights",), required=())
PENALTIES.declare("l1_l21", "slimkit.penalties.registry:l1_l21", kind="group", subgradient=True, prox=True, args=_SG, required=())
PENALTIES.declare("l0_l21", "slimkit.penalties.registry:l0_l21", kind="group", subgradient=False, prox=True, args=_SG, required=())

# -- structural edits (replayed by slimkit.artifacts.load_artifact) ----------------------------
EDITS.declare("prune_channels", "slimkit.surgery.edits:prune_channels_edit")
EDITS.declare("shortcut_a_to_b", "slimkit.surgery.edits:shortcut_a_to_b_edit")
EDITS.declare("prune_dims", "slimkit.surgery.transformer:prune_dims_edit")
EDITS.declare("factorize", "slimkit.lowrank.factorize:factorize_edit")
EDITS.declare("quantize", "slimkit.quant.prepare:prepare_qat")

# -- stages: light config class, heavy run function -------------------------------------------
_SC = "slimkit.stages.config"
STAGES.declare("train", config=f"{_SC}:TrainStageConfig", run="slimkit.stages.train:run_train")
STAGES.declare("evaluate", config=f"{_SC}:EvaluateStageConfig", run="slimkit.stages.evaluate:run_evaluate")
STAGES.declare("export", config=f"{_SC}:ExportStageConfig", run="slimkit.stages.export:run_export")
STAGES.declare("measure", config=f"{_SC}:MeasureStageConfig", run="slimkit.stages.measure:run_measure")
STAGES.declare("prune", config=f"{_SC}:PruneStageConfig", run="slimkit.stages.prune:run_prune")
STAGES.declare("int8", config=f"{_SC}:Int8StageConfig", run="slimkit.stages.int8:run_int8")
STAGES.declare("factorize", config=f"{_SC}:FactorizeStageConfig", run="slimkit.stages.factorize:run_factorize")
STAGES.declare("search", config="slimkit.nas.config:SearchStageConfig", run="slimkit.stages.search:run_search")
STAGES.declare("quantize", config=f"{_SC}:QuantizeStageConfig", run="slimkit.stages.quantize:run_quantize")

# -- training terms: light config class, heavy factory ----------------------------------------
TERMS.declare("bn_sparsity", config="slimkit.sparsity.config:BNSparsityConfig", build="slimkit.sparsity.bn_scale:build_bn_sparsity")
TERMS.declare("sgl", config="slimkit.sparsity.config:GroupSplittingConfig", build="slimkit.sparsity.group_splitting:build_group_splitting")
TERMS.declare("dim_search", config="slimkit.sparsity.config:DimSearchConfig", build="slimkit.sparsity.dim_search:build_dim_search")
TERMS.declare("trp", config="slimkit.lowrank.config:TRPConfig", build="slimkit.lowrank.trp:build_trp")
TERMS.declare("darts_retrain", config="slimkit.nas.config:DartsRetrainConfig", build="slimkit.nas.retrain:build_darts_retrain")
TERMS.declare("distill", config="slimkit.distill.config:DistillConfig", build="slimkit.distill.terms:build_distill")

# -- tasks: light config class, heavy builder -------------------------------------------------
_TC = "slimkit.tasks.config"
TASKS.declare("classification", config=f"{_TC}:ClassificationTaskConfig", build="slimkit.tasks.classification:build_classification")
TASKS.declare("regression", config=f"{_TC}:RegressionTaskConfig", build="slimkit.tasks.regression:build_regression")
TASKS.declare("detection", config=f"{_TC}:DetectionTaskConfig", build="slimkit.tasks.detection:build_detection")
TASKS.declare("eye_openness", config=f"{_TC}:EyeOpennessTaskConfig", build="slimkit.tasks.eye:build_eye_openness")
TASKS.declare("segmentation", config=f"{_TC}:SegmentationTaskConfig", build="slimkit.tasks.segmentation:build_segmentation")
# fmt: on
