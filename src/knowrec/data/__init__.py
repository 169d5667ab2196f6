"""Data stage: the ``Dataset`` model, file formats, built-in datasets and splits."""

from knowrec.data.dataset import TEST, TRAIN, VALID, Dataset
from knowrec.data.formats.kgat import load_kgat
from knowrec.data.formats.recbole import export_recbole, load_recbole
from knowrec.data.formats.ripplenet import load_ripplenet
from knowrec.data.formats.table import ImportReport, attribute_kg, import_dataset
from knowrec.data.hub import DATASETS, load_dataset
from knowrec.data.knowledge import KnowledgeGraph
from knowrec.data.split import Split, SplitKind, split

__all__ = [
    "DATASETS", "TEST", "TRAIN", "VALID", "Dataset", "ImportReport", "KnowledgeGraph", "Split", "SplitKind",
    "attribute_kg", "export_recbole", "import_dataset", "load_dataset", "load_kgat", "load_recbole",
    "load_ripplenet", "split",
]
