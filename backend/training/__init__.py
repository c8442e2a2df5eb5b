"""Training and fine-tuning TCMR with the paper's recipe (docs/training.md).

Modules, one job each:

* `windows`    official 16-frame training windows (stride, edge copies), pure numpy
* `joints`     joint-name tables of the official databases and conversion to the 49 SPIN joints
* `data`       official preprocessed databases -> per-row labels (2D/3D/SMPL + masks), validated
* `batches`    the deterministic batch schedule (2D/3D mix), split among distributed processes
* `model`      the training-mode forward: three decoded features [past, future, integrated]
* `loss`       the four loss terms with the official weights
* `init`       start weights: a TCMR checkpoint, or from scratch (random encoder, SPIN regressor)
* `checkpoints` official trainer checkpoint layout: writing, and reading back for --resume
* `ddp`        torch.distributed set-up (torchrun), rank helpers
* `trainer`    the loop: Adam, plateau schedule, validation PA-MPJPE, events, checkpoints
"""
