"""Disentanglement metrics of a latent space, as the dMelodies benchmark reports them: MIG,
Modularity, SAP and explicitness, from latent codes (N, D) and integer factor labels (N, K).

- MIG (Chen et al. 2018): each latent dim discretised into 20 equal-width bins; per factor, the
  gap between the two largest mutual informations with a dim, divided by the factor's entropy;
  the mean over factors.
- Modularity (Ridgeway and Agakov 2018): with the same mutual informations, per dim one minus the
  normalised squared deviation from an ideal dim that informs about its best factor only; the
  mean over dims (a dim that informs about nothing counts 0).
- SAP (Kumar et al. 2018): per dim and factor the test accuracy of a linear SVM (C 0.01, balanced
  classes) predicting the factor from that dim alone, trained on the first 60% of the samples and
  scored on the other 40%; per factor the gap between the two best dims; the mean over factors.
- Explicitness (Ridgeway and Agakov 2018): per factor a logistic regression (scikit-learn's
  defaults) from all dims, standardised, trained on the same 60%, its one-vs-rest ROC AUC on the
  40% averaged over the factor's values; the mean over factors.
"""

from __future__ import annotations

import numpy as np

from sent.util.errors import SentError

BINS = 20
TRAIN_FRACTION = 0.6


def discretise(codes: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Each column of codes (N, D) as bin indices 0..bins-1 of equal-width bins over its range."""
    codes = np.asarray(codes, dtype=np.float64)
    out = np.empty(codes.shape, dtype=np.int64)
    for d in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, d], bins=bins)
        out[:, d] = np.digitize(codes[:, d], edges[1:-1])
    return out


def mutual_information(codes: np.ndarray, factors: np.ndarray, bins: int = BINS) -> np.ndarray:
    """(D, K) mutual information (nats) between each discretised dim and each factor."""
    from sklearn.metrics import mutual_info_score

    binned = discretise(codes, bins)
    return np.array([[mutual_info_score(factors[:, k], binned[:, d]) for k in range(factors.shape[1])]
                     for d in range(binned.shape[1])])


def mig(mi: np.ndarray, factors: np.ndarray) -> float:
    from sklearn.metrics import mutual_info_score

    entropy = np.array([mutual_info_score(factors[:, k], factors[:, k]) for k in range(factors.shape[1])])
    top = np.sort(mi, axis=0)[::-1]
    return float(np.mean((top[0] - top[1]) / entropy))


def modularity(mi: np.ndarray) -> float:
    best = mi.max(axis=1)
    ideal = np.zeros_like(mi)
    ideal[np.arange(len(mi)), mi.argmax(axis=1)] = best
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = ((mi - ideal) ** 2).sum(axis=1) / (best ** 2 * (mi.shape[1] - 1))
    return float(np.mean(np.where(best > 0, 1 - deviation, 0.0)))


def _split(n: int) -> int:
    return int(TRAIN_FRACTION * n)


def sap(codes: np.ndarray, factors: np.ndarray) -> float:
    from sklearn.svm import LinearSVC

    cut = _split(len(codes))
    scores = np.zeros((codes.shape[1], factors.shape[1]))
    for k in range(factors.shape[1]):
        for d in range(codes.shape[1]):
            x = codes[:, d:d + 1]
            svm = LinearSVC(C=0.01, class_weight="balanced").fit(x[:cut], factors[:cut, k])
            scores[d, k] = np.mean(svm.predict(x[cut:]) == factors[cut:, k])
    top = np.sort(scores, axis=0)[::-1]
    return float(np.mean(top[0] - top[1]))


def explicitness(codes: np.ndarray, factors: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    cut = _split(len(codes))
    # standardised with the training part's statistics: lbfgs converges in its default 100 steps
    mean, std = codes[:cut].mean(axis=0), codes[:cut].std(axis=0) + 1e-12
    codes = (codes - mean) / std
    per_factor = []
    for k in range(factors.shape[1]):
        model = LogisticRegression().fit(codes[:cut], factors[:cut, k])
        probabilities = model.predict_proba(codes[cut:])
        aucs = [roc_auc_score(factors[cut:, k] == value, probabilities[:, i])
                for i, value in enumerate(model.classes_) if 0 < np.mean(factors[cut:, k] == value) < 1]
        per_factor.append(np.mean(aucs))
    return float(np.mean(per_factor))


def metrics(codes: np.ndarray, factors: np.ndarray) -> dict:
    """MIG, Modularity, SAP and explicitness of codes (N, D) with factor labels (N, K)."""
    codes, factors = np.asarray(codes, dtype=np.float64), np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors) or len(codes) < 10:
        raise SentError(f"disentanglement metrics need codes (N, D) and factors (N, K) of the same N >= 10; got "
                        f"{codes.shape} and {factors.shape}")
    if not np.isfinite(codes).all():
        raise SentError("disentanglement metrics: the codes contain NaN or infinite values")
    single = [k for k in range(factors.shape[1]) if len(np.unique(factors[:, k])) < 2]
    if single:
        raise SentError(f"disentanglement metrics: factor(s) {single} take a single value in these samples")
    mi = mutual_information(codes, factors)
    return {"mig": mig(mi, factors), "modularity": modularity(mi), "sap": sap(codes, factors),
            "explicitness": explicitness(codes, factors)}
