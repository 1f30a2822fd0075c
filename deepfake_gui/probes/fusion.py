"""The fusion detector: CLIP semantics + a forensic text prompt + ResNet-101 texture, through an MLP.

CLIP's image embedding knows *what* is in a picture and, through its alignment
with text, how much it resembles a description of a generated image; ResNet-101's
pooled features keep the low-level texture statistics that CLIP's contrastive
training discards. Neither alone sees both, so the head learns on their
concatenation. The head is a small MLP (512-512-1, BatchNorm, dropout 0.4) trained
with early stopping on a *grouped* validation split, because a random split lets
near-duplicates of a training photo into validation and stops far too late.

Everything learned is exported as float32 arrays with stable names (``to_arrays``)
for safetensors; nothing is pickled.

``FusionBundleDetector`` is the ``fusion`` detector kind: a saved head with its
calibration, reading the CLIP embedding (with the forensic prompt's) and the ResNet's
pooled features of whole pictures. Running the two encoders over files is the engine's
work (engine/detector_features.py; engine/fusion_detector.py adds file scoring).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

import numpy as np

from deepfake_gui.analysis.metrics import eer, roc_auc
from deepfake_gui.core.errors import BundleError, LayerScopeError
from deepfake_gui.probes.base import Estimator
from deepfake_gui.probes.bundle import DetectorBundle, TensorCheck
from deepfake_gui.probes.dataset import LabeledSet
from deepfake_gui.probes.interface import BundleDetector, EncodedBatch, FeatureRequest, Features, as_batch
from deepfake_gui.probes.registry import register_kind

Folds = list[tuple[np.ndarray, np.ndarray]]
RESNET_POOL_LAYER = "pool"
# Names of the head's parameters and buffers, in order; BatchNorm's num_batches_tracked is
# only a training counter (momentum is fixed), so it is not exported.
HEAD_LAYERS = ("fc1", "bn1", "fc2", "bn2", "out")
FUSION_HEAD_LAYERS = {"fc1": "linear", "bn1": "norm", "fc2": "linear", "bn2": "norm", "out": "linear"}
_NORM_PARAMS = ("weight", "bias", "running_mean", "running_var")


# ------------------------------------------------------------------- inputs
def fusion_layout(clip_dim: int, resnet_dim: int) -> dict[str, tuple[int, int]]:
    """Column ranges [start, stop) of each block in ``fusion_inputs``' output."""
    e = int(clip_dim)
    return {"clip": (0, e), "clip_x_prompt": (e, 2 * e), "prompt_cosine": (2 * e, 2 * e + 1),
            "resnet": (2 * e + 1, 2 * e + 1 + int(resnet_dim))}


def fusion_inputs(clip_image_emb: np.ndarray, prompt_emb: np.ndarray, resnet_pooled: np.ndarray) -> np.ndarray:
    """The fusion head's input matrix, float32 (N, 2E + 1 + R).

    Layout, in columns (see ``fusion_layout``):

    * ``[0, E)``          e: the CLIP image embedding, L2-normalised per row;
    * ``[E, 2E)``         e * t: element-wise product with the L2-normalised forensic prompt embedding t,
      i.e. the per-dimension terms of the image-prompt similarity, so the head can weight them;
    * ``[2E, 2E+1)``      e . t: their cosine similarity (CLIP's zero-shot score for the prompt);
    * ``[2E+1, 2E+1+R)``  the ResNet-101 pooled features (2,048 wide for the real model), unchanged.

    Inputs are re-normalised here so callers cannot silently feed raw CLIP outputs.
    """
    e = np.atleast_2d(np.asarray(clip_image_emb, dtype=np.float64))
    t = np.asarray(prompt_emb, dtype=np.float64).reshape(-1)
    r = np.atleast_2d(np.asarray(resnet_pooled, dtype=np.float64))
    if e.shape[1] != t.shape[0]:
        raise ValueError(f"CLIP image embedding width {e.shape[1]} != prompt embedding width {t.shape[0]}")
    if e.shape[0] != r.shape[0]:
        raise ValueError(f"{e.shape[0]} CLIP rows but {r.shape[0]} ResNet rows")
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    t = t / max(float(np.linalg.norm(t)), 1e-12)
    prod = e * t[None, :]
    cos = prod.sum(axis=1, keepdims=True)
    return np.concatenate([e, prod, cos, r], axis=1).astype(np.float32)


def fusion_inputs_of(clip: EncodedBatch, resnet: EncodedBatch) -> np.ndarray:
    """``fusion_inputs`` from the CLIP encoder's batch (embedding and prompt) and the ResNet's (its "pool" layer,
    the global-average-pooled output of the last stage; the last layer when none is named so)."""
    names = list(resnet.layer_names)
    index = names.index(RESNET_POOL_LAYER) if RESNET_POOL_LAYER in names else len(resnet.pooled) - 1
    return fusion_inputs(clip.embedding, np.asarray(clip.prompt).reshape(-1), resnet.pooled[index])  # type: ignore[arg-type]


# --------------------------------------------------------------------- head
def build_head(in_dim: int, hidden: int = 512, dropout: float = 0.4):
    """Linear-BN-ReLU-Dropout twice, then one logit; named layers give stable export names."""
    from torch import nn

    return nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(in_dim, hidden)), ("bn1", nn.BatchNorm1d(hidden)), ("act1", nn.ReLU()),
        ("drop1", nn.Dropout(dropout)),
        ("fc2", nn.Linear(hidden, hidden)), ("bn2", nn.BatchNorm1d(hidden)), ("act2", nn.ReLU()),
        ("drop2", nn.Dropout(dropout)),
        ("out", nn.Linear(hidden, 1)),
    ]))


def grouped_validation_split(y: np.ndarray, groups: np.ndarray, val_fraction: float = 0.2, seed: int = 0,
                             attempts: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices with no group on both sides and both classes in each side, when possible."""
    from sklearn.model_selection import GroupShuffleSplit

    y = np.asarray(y).astype(int)
    groups = np.asarray(groups)
    if len(np.unique(groups)) < 2:
        raise LayerScopeError("need at least two groups for a grouped validation split")
    for attempt in range(attempts):
        splitter = GroupShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed + attempt)
        train, val = next(splitter.split(np.zeros(len(y)), y, groups))
        if len(np.unique(y[train])) == 2 and len(np.unique(y[val])) == 2:
            return train, val
    raise LayerScopeError("could not draw a grouped validation split holding both classes; "
                          "the data set has too few groups of one class")


class FusionMLP(Estimator):
    """scikit-learn-style binary head over ``fusion_inputs`` (or any feature matrix).

    ``fit`` holds out a grouped validation split (``val_fraction`` of the groups),
    trains with Adam on mini-batches, evaluates the validation AUC after each epoch
    (validation loss breaks ties, so training can still improve once the AUC saturates),
    stops after ``patience`` epochs without improvement and restores the best epoch's
    weights. Everything random (init, shuffling, dropout, the split) follows ``random_state``.
    ``num_threads`` caps torch's intra-op threads during ``fit`` only (restored after): a
    head this small gains nothing from many threads and suffers badly on a busy machine.
    """

    def __init__(self, hidden: int = 512, dropout: float = 0.4, lr: float = 1e-4, batch_size: int = 64,
                 max_epochs: int = 200, patience: int = 10, random_state: int = 0, val_fraction: float = 0.2,
                 balanced: bool = True, device: str = "cpu", num_threads: int | None = None) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.random_state = random_state
        self.val_fraction = val_fraction
        self.balanced = balanced
        self.device = device
        self.num_threads = num_threads

    # -- training ----------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> FusionMLP:
        import torch

        previous_threads = torch.get_num_threads()
        if self.num_threads:
            torch.set_num_threads(int(self.num_threads))
        try:
            return self._fit(X, y, groups)
        finally:
            if self.num_threads:
                torch.set_num_threads(previous_threads)

    def _fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None) -> FusionMLP:
        import torch

        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y).astype(int)
        if set(np.unique(y)) != {0, 1}:
            raise LayerScopeError("the fusion head needs both real (0) and fake (1) items")
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        train, val = grouped_validation_split(y, groups, self.val_fraction, self.random_state)
        # The scaler is rounded to float32 now, as it will be stored, so a reloaded head decides identically.
        std = X[train].std(axis=0)
        self.mean_ = X[train].mean(axis=0).astype(np.float32).astype(np.float64)
        self.scale_ = np.where(std > 1e-8, std, 1.0).astype(np.float32).astype(np.float64)
        device = torch.device(self.device)
        Xt = torch.as_tensor((X - self.mean_) / self.scale_, dtype=torch.float32, device=device)
        yt = torch.as_tensor(y, dtype=torch.float32, device=device)
        tr = torch.as_tensor(train, device=device)
        X_val, y_val = Xt[torch.as_tensor(val, device=device)], yt[torch.as_tensor(val, device=device)]

        with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG untouched
            torch.manual_seed(self.random_state)
            gen = torch.Generator().manual_seed(self.random_state)
            head = build_head(X.shape[1], self.hidden, self.dropout).to(device)
            n_pos = float(y[train].sum())
            pos_weight = (len(train) - n_pos) / n_pos if self.balanced else 1.0
            loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, device=device))
            opt = torch.optim.Adam(head.parameters(), lr=self.lr)
            best = (-np.inf, np.inf)  # (val auc, val loss)
            best_state, best_epoch, since_best = copy.deepcopy(head.state_dict()), 0, 0
            history: list[dict[str, float]] = []
            for epoch in range(1, self.max_epochs + 1):
                head.train()
                order = tr[torch.randperm(len(train), generator=gen).to(device)]
                total, seen = 0.0, 0
                for start in range(0, len(order), self.batch_size):
                    idx = order[start:start + self.batch_size]
                    if len(idx) < 2:  # BatchNorm cannot normalise a single item
                        continue
                    opt.zero_grad()
                    loss = loss_fn(head(Xt[idx])[:, 0], yt[idx])
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(idx)
                    seen += len(idx)
                val_logits = self._logits(head, X_val)
                val_loss = float(loss_fn(torch.as_tensor(val_logits, dtype=torch.float32, device=device), y_val))
                val_auc = roc_auc(y[val], val_logits)
                history.append({"epoch": epoch, "train_loss": total / max(seen, 1), "val_loss": val_loss,
                                "val_auc": val_auc})
                if val_auc > best[0] + 1e-6 or (val_auc >= best[0] - 1e-9 and val_loss < best[1] - 1e-6):
                    best = (val_auc, val_loss)
                    best_state, best_epoch, since_best = copy.deepcopy(head.state_dict()), epoch, 0
                else:
                    since_best += 1
                    if since_best >= self.patience:
                        break
        head.load_state_dict(best_state)
        head.eval()
        self.head_ = head
        self.n_features_in_ = int(X.shape[1])
        self.best_epoch_ = best_epoch
        self.n_epochs_ = len(history)
        self.best_val_auc_ = float(best[0])
        self.best_val_loss_ = float(best[1])
        self.history_ = history
        self.val_index_ = np.asarray(val, dtype=int)  # rows of X used for early stopping
        self.n_train_, self.n_val_ = len(train), len(val)
        return self

    @staticmethod
    def _logits(head, Xt) -> np.ndarray:
        import torch

        was_training = head.training
        head.eval()
        with torch.inference_mode():
            out = head(Xt)[:, 0].double().cpu().numpy()
        head.train(was_training)
        return out

    # -- inference ---------------------------------------------------------
    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Logits (> 0 = fake), in eval mode: BatchNorm uses its running statistics, dropout is off."""
        import torch

        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != self.n_features_in_:
            raise LayerScopeError(f"the fusion head expects {self.n_features_in_} features, got {X.shape[1]}")
        device = next(self.head_.parameters()).device
        Xt = torch.as_tensor((X - self.mean_) / self.scale_, dtype=torch.float32, device=device)
        return self._logits(self.head_, Xt)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated sigmoid of the logit; columns (real, fake)."""
        d = np.clip(self.decision_function(X), -60, 60)
        p = 1.0 / (1.0 + np.exp(-d))
        return np.stack([1 - p, p], axis=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(int)

    # -- persistence -------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """``head.<layer>.<param>`` for every weight and BatchNorm running statistic, plus the scaler."""
        arrays = {f"head.{k}": v.detach().cpu().numpy().astype(np.float32)
                  for k, v in self.head_.state_dict().items() if not k.endswith("num_batches_tracked")}
        arrays["scaler_mean"] = self.mean_.astype(np.float32)
        arrays["scaler_std"] = self.scale_.astype(np.float32)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], device: str = "cpu") -> FusionMLP:
        import torch

        try:
            w1 = np.asarray(arrays["head.fc1.weight"])
            hidden, in_dim = w1.shape
            head = build_head(int(in_dim), int(hidden)).to(device)  # dropout is inactive in eval mode
            state = head.state_dict()
            loaded = {}
            for key, ref in state.items():
                if key.endswith("num_batches_tracked"):
                    loaded[key] = ref
                    continue
                value = np.asarray(arrays[f"head.{key}"], dtype=np.float32)
                if tuple(value.shape) != tuple(ref.shape):
                    raise LayerScopeError(f"fusion tensor head.{key} has shape {value.shape}, expected "
                                          f"{tuple(ref.shape)}")
                loaded[key] = torch.as_tensor(value, device=device)
            mean = np.asarray(arrays["scaler_mean"], dtype=np.float64)
            scale = np.asarray(arrays["scaler_std"], dtype=np.float64)
        except KeyError as exc:
            raise LayerScopeError(f"fusion arrays are missing {exc.args[0]!r}") from None
        if mean.shape != (in_dim,) or scale.shape != (in_dim,):
            raise LayerScopeError("fusion scaler shapes disagree with the head's input width")
        head.load_state_dict(loaded)
        head.eval()
        model = cls(hidden=int(hidden), device=device)
        model.head_, model.mean_, model.scale_ = head, mean, scale
        model.n_features_in_ = int(in_dim)
        return model


# ---------------------------------------------------------- cross-validation
def train_fusion(X: np.ndarray, data: LabeledSet, folds: Folds, seed: int = 0,
                 **params: Any) -> tuple[FusionMLP, np.ndarray, list[dict]]:
    """Grouped CV of the fusion head, then a final fit on all items.

    Returns (final model, out-of-fold logits, per-fold metrics). Each fold's early
    stopping uses a grouped validation split carved from that fold's training
    groups only, so the test fold never steers training. Extra keyword arguments go
    to ``FusionMLP``.
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(data.labels).astype(int)
    oof = np.full(len(labels), np.nan)
    per_fold = []
    for fold, (train, test) in enumerate(folds):
        model = FusionMLP(random_state=seed, **params).fit(X[train], labels[train], data.groups[train])
        scores = model.decision_function(X[test])
        oof[test] = scores
        y = labels[test]
        row: dict[str, Any] = {"fold": fold, "best_epoch": model.best_epoch_, "epochs": model.n_epochs_,
                               "accuracy": float(((scores > 0).astype(int) == y).mean())}
        if y.min() != y.max():
            row["auc"] = roc_auc(y, scores)
            row["eer"] = eer(y, scores)[0]
        per_fold.append(row)
    if np.isnan(oof).any():
        raise LayerScopeError("the folds do not test every item once; use grouped_folds()")
    final = FusionMLP(random_state=seed, **params).fit(X, labels, data.groups)
    return final, oof, per_fold


# ------------------------------------------------------------- the detector kind
class FusionBundleDetector(BundleDetector):
    """A saved fusion head: Platt calibration, threshold and band as every calibrated kind.

    It needs *two* encoders, named in the bundle's ``encoders`` list (CLIP, then ResNet);
    each must have the weights the head was trained on (their sha256 is checked by the
    engine), never a silent substitute.
    """

    kind = "fusion"
    description = "fusion detector"

    def __init__(self, bundle: DetectorBundle) -> None:
        super().__init__(bundle)
        try:
            self.model = FusionMLP.from_arrays(bundle.arrays)
        except LayerScopeError as exc:
            raise BundleError(f"{bundle.path}: {exc}") from exc
        self.encoder_specs: list[dict] = list(self.meta["encoders"])

    @classmethod
    def check_tensors(cls, check: TensorCheck) -> int:
        return _check_fusion(check)

    @property
    def n_features(self) -> int:
        return int(self.model.n_features_in_)

    def feature_requests(self) -> list[FeatureRequest]:
        """The CLIP encoder's embedding of whole pictures (and its prompt's), and the ResNet's pooled layers."""
        clip, resnet = self.encoder_specs
        return [FeatureRequest(clip["name"], None, embedding=True, weights_sha256=clip.get("weights_sha256")),
                FeatureRequest(resnet["name"], None, weights_sha256=resnet.get("weights_sha256"))]

    def inputs(self, features: Features) -> np.ndarray:
        """``fusion_inputs`` (N, n_features) from the CLIP batch (embedding, prompt) and the ResNet's "pool" layer."""
        clip_name, resnet_name = self.encoder_names
        clip = as_batch(features[clip_name])
        if clip.embedding is None or clip.prompt is None:
            raise BundleError(f"{self.bundle.path}: needs the image embedding and the forensic prompt's embedding "
                              f"of {clip_name}")
        X = fusion_inputs_of(clip, as_batch(features[resnet_name]))
        if X.shape[1] != self.n_features:
            raise BundleError(f"{self.bundle.path}: the head expects {self.n_features} features, encoders "
                              f"{'+'.join(self.encoder_names)} give {X.shape[1]}")
        return X.astype(np.float64)

    def decision(self, X: np.ndarray) -> np.ndarray:
        return self.model.decision_function(X)


def _check_fusion(c: TensorCheck) -> int:
    """The MLP head (fc1-bn1-fc2-bn2-out) and its input scaler; returns the input width."""
    meta = c.meta
    if meta["modality"] != "image":
        c.fail_json("modality", f"is {meta['modality']!r}; a fusion detector works on images")
    if meta["classes"] != ["real", "fake"]:
        c.fail_json("classes", f"is {meta['classes']}; a fusion detector is binary: [\"real\", \"fake\"]")
    encoders = meta.get("encoders")
    if not isinstance(encoders, list) or len(encoders) != 2 \
            or not all(isinstance(e, dict) and isinstance(e.get("name"), str) for e in encoders):
        c.fail_json("encoders", "must list the two encoders (CLIP, then ResNet) as {\"name\": ...} objects")
    expected = [f"head.{layer}.{param}" for layer, role in FUSION_HEAD_LAYERS.items()
                for param in (("weight", "bias") if role == "linear" else _NORM_PARAMS)]
    c.need(expected + ["scaler_mean", "scaler_std"], "a fusion bundle")
    unexpected = sorted(k for k in c.arrays if k.startswith("head.") and k not in expected)
    if unexpected:
        raise BundleError(f"{c.weights}: tensor(s) {unexpected} are not part of the fusion head "
                          f"({', '.join(FUSION_HEAD_LAYERS)})")
    hidden, d = c.matrix("head.fc1.weight")
    c.shape("head.fc1.bias", (hidden,), "one per row of head.fc1.weight")
    c.shape("head.fc2.weight", (hidden, hidden), "hidden x hidden, hidden = rows of head.fc1.weight")
    c.shape("head.fc2.bias", (hidden,), "one per row of head.fc2.weight")
    for bn in ("bn1", "bn2"):
        for param in _NORM_PARAMS:
            c.shape(f"head.{bn}.{param}", (hidden,), "one per hidden unit")
        c.positive(f"head.{bn}.running_var", strict=False)
    c.shape("head.out.weight", (1, hidden), "one logit from the hidden units")
    c.shape("head.out.bias", (1,), "one logit")
    c.shape("scaler_mean", (d,), "the input width of head.fc1.weight")
    c.shape("scaler_std", (d,), "the input width of head.fc1.weight")
    c.positive("scaler_std")
    return d


register_kind(FusionBundleDetector.kind, FusionBundleDetector)
