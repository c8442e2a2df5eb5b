"""`TrainConfig`: everything that defines a training run, checked before anything is written."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from backend.errors import BackendError, Code

PAPER_EPOCHS = 30  # repr_table4_3dpw_model (the table-6 configs run 30 or 45)
ITERS_PER_EPOCH = 500  # TRAIN.NUM_ITERS_PER_EPOCH
BATCH_SIZE = 32  # TRAIN.BATCH_SIZE
LR = 5e-5  # TRAIN.GEN_LR (Adam, weight decay 0)
SEED = 1  # SEED_VALUE
PATIENCE = 5  # TRAIN.LR_PATIENCE (ReduceLROnPlateau, factor 0.1)
DROPOUT = 0.5  # the regressor's two nn.Dropout()


@dataclass(frozen=True)
class TrainConfig:
    dbs: tuple[str, ...]
    out: str
    eval_db: str | None = None
    data_dir: str | None = None
    init: str | None = None  # None: the data folder's tcmr_demo_model.pth.tar; "none": from scratch
    steps: int | None = None
    epochs: int | None = None
    iters_per_epoch: int = ITERS_PER_EPOCH
    batch_size: int = BATCH_SIZE
    lr: float = LR
    seed: int = SEED
    dropout: float = DROPOUT
    stride: int = 1  # 1: TRAIN.OVERLAP true (table 4 3DPW model), 16: OVERLAP false
    patience: int = PATIENCE
    device: str = "auto"
    resume: bool = False
    save_every: int = 0  # also write checkpoint_last every this many steps (0: at epoch ends only)
    freeze_encoder: bool = False  # fine-tuning option (not the paper's): only the regressor learns
    eval_batch_size: int = 64
    extra: dict = field(default_factory=dict)

    @property
    def total_steps(self) -> int:
        return self.steps if self.steps is not None else (self.epochs or PAPER_EPOCHS) * self.iters_per_epoch

    def check(self, world: int = 1) -> None:
        def bad(message: str, hint: str) -> BackendError:
            return BackendError(Code.BAD_ARGUMENT, message, hint)

        if not self.dbs:
            raise bad("no training database given", "Pass at least one --db PATH.")
        if self.steps is not None and self.epochs is not None:
            raise bad("--steps and --epochs were both given", "Pass one of them.")
        for name, value in (("--steps", self.steps), ("--epochs", self.epochs),
                            ("--iters-per-epoch", self.iters_per_epoch), ("--batch-size", self.batch_size),
                            ("--eval-batch-size", self.eval_batch_size)):
            if value is not None and value < 1:
                raise bad(f"{name} must be >= 1, got {value}", f"Use a positive {name}.")
        if self.save_every < 0:
            raise bad(f"--save-every must be >= 0, got {self.save_every}",
                      "Use 0 to save at epoch ends only.")
        if not self.lr > 0:
            raise bad(f"--lr must be > 0, got {self.lr}", "The paper uses --lr 5e-5.")
        if not 0.0 <= self.dropout < 1.0:
            raise bad(f"--dropout must be in [0, 1), got {self.dropout}", "The official value is 0.5.")
        if self.stride < 1 or self.stride > 16:
            raise bad(f"--stride must be 1..16, got {self.stride}", "Use 1 (overlapping windows) or 16.")
        if self.batch_size % world:
            raise bad(f"--batch-size {self.batch_size} does not split over {world} processes",
                      f"Use a global batch size divisible by {world}, e.g. "
                      f"{world * max(1, self.batch_size // world)}.")

    def identity(self) -> dict:
        """The settings a resumed run must share with the run it continues."""
        d = asdict(self)
        keys = ("batch_size", "seed", "dropout", "stride", "iters_per_epoch", "freeze_encoder", "patience")
        return {k: d[k] for k in keys}
