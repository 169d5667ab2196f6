"""The hybrid model's training objectives: full softmax cross-entropy over the items with training
interactions, or a sampled softmax with logQ correction for large catalogues."""

from __future__ import annotations

import scipy.sparse as sp
import torch
from torch import nn


def full_softmax(users: torch.Tensor, items: torch.Tensor, bias: torch.Tensor, known: torch.Tensor,
                 pos: torch.Tensor, seen: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of each user's positive among all items; items with no training interaction (held-out cold
    items, ``known`` False) are unknown, not negatives, and so are the items in ``seen`` (a batch × items mask of
    each user's other training items), as at evaluation, where a user's training items are not ranked.

    Unknown items are left out of the logits rather than masked to -inf (the same loss): one fused
    ``addmm`` over the known columns, no full-width mask or bias pass — the softmax is most of a step."""
    columns = known.nonzero().squeeze(1)
    logits = torch.addmm(bias.index_select(0, columns), users, items.index_select(0, columns).T)
    if seen is not None:
        logits = logits.masked_fill(seen.index_select(1, columns), -torch.inf)
    return nn.functional.cross_entropy(logits, (known.cumsum(0) - 1).index_select(0, pos))


def others_seen(history: sp.csr_matrix, users: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """A ``len(users) × items`` mask of each row's user's training items, the row's own positive left out."""
    rows, cols = history[users.cpu().numpy()].nonzero()
    mask = torch.zeros(len(users), history.shape[1], dtype=torch.bool, device=pos.device)
    mask[torch.as_tensor(rows, device=pos.device), torch.as_tensor(cols, device=pos.device)] = True
    mask[torch.arange(len(pos), device=pos.device), pos] = False
    return mask


def sampled_softmax(users: torch.Tensor, items: torch.Tensor, pos: torch.Tensor, bias: torch.Tensor,
                    popularity: torch.Tensor, n_samples: int, seen: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the positive and ``n_samples`` popularity-sampled items, logits corrected by log q
    (Yi et al., RecSys 2019); a sample that is the positive itself is masked out, and so is one in ``seen``."""
    q = popularity.pow(0.75)  # items never interacted with are never drawn
    q = q / q.sum()
    neg = torch.multinomial(q, n_samples, replacement=True)
    log_q = q.log() - bias  # a logit is score + bias - log q
    pos_logit = (users * items.index_select(0, pos)).sum(1, keepdim=True) - log_q.index_select(0, pos).unsqueeze(1)
    neg_logit = users @ items.index_select(0, neg).T - log_q.index_select(0, neg)
    neg_logit = neg_logit.masked_fill(neg.unsqueeze(0) == pos.unsqueeze(1), -torch.inf)  # accidental hits
    if seen is not None:
        neg_logit = neg_logit.masked_fill(seen[:, neg], -torch.inf)
    logits = torch.cat([pos_logit, neg_logit], 1)
    return nn.functional.cross_entropy(logits, torch.zeros(len(users), dtype=torch.long))
