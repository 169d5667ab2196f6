"""Models stage: the ``Recommender`` contract and every registered model (imported here to register them)."""

from knowrec.models import bpr, cke, content, hybrid, itemknn, kgnet, lightgcn, pop
from knowrec.models.base import MODELS, Estimator, FactorRecommender, Recommender
from knowrec.models.bpr import BPR
from knowrec.models.cke import CKE
from knowrec.models.content import Content
from knowrec.models.gradient import TorchModel, TorchRecommender
from knowrec.models.hybrid import Hybrid
from knowrec.models.itemknn import ItemKNN
from knowrec.models.kgnet import KGNet
from knowrec.models.lightgcn import LightGCN
from knowrec.models.pop import Pop

__all__ = ["BPR", "CKE", "MODELS", "Content", "Estimator", "FactorRecommender", "Hybrid", "ItemKNN", "KGNet",
           "LightGCN", "Pop", "Recommender", "TorchModel", "TorchRecommender", "bpr", "cke", "content", "hybrid",
           "itemknn", "kgnet", "lightgcn", "pop"]
