"""Models stage: the ``Recommender`` contract and every registered model (imported here to register them)."""

from knowrec.models import blend, bpr, cke, content, ease, hybrid, itemknn, kgnet, lightgcn, pop, reference, social
from knowrec.models.base import MODELS, Estimator, FactorRecommender, Recommender
from knowrec.models.blend import Blend
from knowrec.models.bpr import BPR
from knowrec.models.cke import CKE
from knowrec.models.content import Content
from knowrec.models.ease import EASE, KnowledgeEASE
from knowrec.models.gradient import TorchModel, TorchRecommender
from knowrec.models.hybrid import Hybrid
from knowrec.models.itemknn import ItemKNN
from knowrec.models.kgnet import KGNet
from knowrec.models.lightgcn import LightGCN
from knowrec.models.pop import Pop
from knowrec.models.reference import Constant, RandomScores
from knowrec.models.social import AdamicAdar, CommonNeighbours, PersonalisedPageRank, SharedFacts

__all__ = [
           "BPR",
           "CKE",
           "EASE",
           "MODELS",
           "AdamicAdar",
           "Blend",
           "CommonNeighbours",
           "Constant",
           "Content",
           "Estimator",
           "FactorRecommender",
           "Hybrid",
           "ItemKNN",
           "KGNet",
           "KnowledgeEASE",
           "LightGCN",
           "PersonalisedPageRank",
           "Pop",
           "RandomScores",
           "Recommender",
           "SharedFacts",
           "TorchModel",
           "TorchRecommender",
           "blend",
           "bpr",
           "cke",
           "content",
           "ease",
           "hybrid",
           "itemknn",
           "kgnet",
           "lightgcn",
           "pop",
           "reference",
           "social",
]
