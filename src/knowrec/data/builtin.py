"""The built-in datasets: what each is, where its files come from, and how it is found — a path you pass, then
``$KNOWREC_DATA_DIR/<name>/``, then the cache (``$KNOWREC_CACHE_DIR`` or ``~/.cache/knowrec``), then a download
from the public source, checked by SHA-256. ``load_dataset`` is the one way in, by name or by folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from knowrec.data.dataset import Dataset
from knowrec.data.download import RemoteFile, cache_dir, download
from knowrec.data.formats import load_folder
from knowrec.data.formats.hin import load_hin_yelp
from knowrec.data.formats.kgat import load_kgat
from knowrec.data.formats.letter import load_letter
from knowrec.data.formats.ml1m import load_ml1m_kg
from knowrec.data.formats.recbole import load_recbole
from knowrec.data.formats.ripplenet import load_ripplenet
from knowrec.errors import DataError, DatasetNotFoundError
from knowrec.registry import Registry

DATA_DIR_ENV = "KNOWREC_DATA_DIR"


@dataclass(frozen=True)
class DatasetSpec:
    """A built-in dataset: description, source files and the loader that reads its folder."""

    name: str
    description: str
    loader: Callable[[Path], Dataset]
    files: tuple[RemoteFile, ...]
    source: str
    terms: str
    #: Where the files lie under ``$KNOWREC_DATA_DIR`` (defaults to the name).
    folder: str = ""

    def present_in(self, folder: Path) -> bool:
        return all(f.present_in(folder) for f in self.files)


DATASETS: Registry[DatasetSpec] = Registry("dataset")


def _gh(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


_RECBOLE = ("RUCAIBox/RecBole", "7b02be5ec80a88310f2d04a27a82adfcbb5dc211", "recbole/dataset_example/ml-100k")
_MCCLK = ("CCIIPLab/MCCLK", "4b0d2843b73adbe816a7a5bb1788b4f4bcd777f4", "data/book")
_RIPPLENET = ("hwwang55/RippleNet", "46a364d6aa4e346111043924a4741a21d2ff09b6", "data/book")
_MKR = ("hwwang55/MKR", "d6bb77c426960bc04f5d88c39f09d87a844776b4", "data/movie")
_COLAKG = ("ziqiangcui/CoLaKG", "7e1ce44945b2cfcb99ba36daf4b143e7a9704b84", "data/ml-1m")
_ML1M = ("vignesh117/recommender", "7db1a82bdc24d8c162e73b782e9aef1dd2cd53d6", "ml-1m/full_data")
_LETTER = ("Nishikata97/CollisionGenRec", "505d5be3166f7c38ae67957daf8a3b7ec7092577", "data/Scientific")
_HIN = ("librahu/HIN-Datasets-for-Recommendation-and-Network-Embedding", "cc05c484b628b08237f0a876fcebf99d736ccbea",
        "Yelp")
_KGAT = ("xiangwang1223/knowledge_graph_attention_network", "c03737be46ac26a0b5431efe149828e982ffbbfb",
         "Data/amazon-book")


def _files(src: tuple[str, str, str], local_dir: str, sums: dict[str, str]) -> tuple[RemoteFile, ...]:
    repo, commit, folder = src
    prefix = f"{local_dir}/" if local_dir else ""
    return tuple(RemoteFile(f"{prefix}{name}", _gh(repo, commit, f"{folder}/{name}"), sha)
                 for name, sha in sums.items())


def _load_book(folder: Path) -> Dataset:
    return load_ripplenet(Path(folder) / "mcclk", "book-crossing-kg",
                          item_index=Path(folder) / "ripplenet" / "item_index2entity_id_rehashed.txt")


DATASETS.register("ml-100k", aliases=("ml100k", "movielens-100k"))(DatasetSpec(
    name="ml-100k",
    description="MovieLens 100K (943 users, 1,682 films, 100,000 ratings) with RecBole's Freebase KG (91,631 triples)",
    loader=lambda folder: load_recbole(folder, "ml-100k"),
    files=_files(_RECBOLE, "", {
        "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
        "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
        "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
        "ml-100k.kg": "200a0636fa07c218119a42e5bac7aa3e26e3665a6f919c1b22909bd412b14779",
        "ml-100k.link": "524dca2c3d62619688ab99b3ec53ea2acb9b64d38eafec3e02bdd0dc6bb7d948",
    }),
    source="RecBole dataset_example (RUCAIBox/RecBole)",
    terms="GroupLens licence: research use, no redistribution, cite Harper & Konstan 2015",
))

DATASETS.register("book-crossing-kg", aliases=("book", "book-crossing"))(DatasetSpec(
    name="book-crossing-kg",
    description="Book-Crossing as preprocessed by RippleNet/MCCLK: 17,860 users, 14,967 books (ISBNs), "
    "69,873 positives + sampled negatives, KG of 151,500 triples",
    loader=_load_book,
    files=(
        RemoteFile("mcclk/ratings_final.npy", _gh(*_MCCLK[:2], f"{_MCCLK[2]}/ratings_final.npy"),
                   "d223b814c1a2c313eb030767d8b828ffad6f6341111b1911e485e008885071ba",
                   alternatives=("mcclk/ratings_final.txt",)),
        *_files(_MCCLK, "mcclk", {"kg_final.txt": "60a4a2c2e6f101fbbd5763c72be3ed4f565498e7f6c8660eb19fe598dc7158b2"}),
        *_files(_RIPPLENET, "ripplenet", {
            "item_index2entity_id_rehashed.txt": "e2eaaad7999135ce025489a08625dda95b75067064523e83d2d7f97eb1861f79"}),
    ),
    source="CCIIPLab/MCCLK and hwwang55/RippleNet data/book",
    terms="Book-Crossing: no licence stated by the source repositories; research use",
))

DATASETS.register("ml-1m-kg", aliases=("ml1m", "ml-1m"))(DatasetSpec(
    name="ml-1m-kg",
    description="MovieLens 1M, CoLaKG's implicit split (6,040 users, 3,260 films, 998,539 interactions), "
    "titles, genres, LLM-written descriptions and MKR's KG (20,782 triples)",
    loader=load_ml1m_kg,
    files=(
        *_files(_COLAKG, "colakg", {
            "train.txt": "573597130772d14eaa4e3119e79bfcd784a227ef59bc7511cb94376ef73fdda0",
            "test.txt": "2270d90d15e28f575e462e956beb9ef87b71176232c188fb038460409d22bca6",
            "user_map.txt": "df8752d1425692fd14a76d5ba3ca2b6a28b7ade61a7764fc8575c2807c504f6b",
            "item_map.txt": "f9656ffd46465058dbad4cbd160dbeb6844a70fb20399834409fd686d22fea98",
            "llm_response_item.json": "b47eb5d8b2ca1754e994daa93736dcc027dc8cc03da0ea28115a552eb6158724",
        }),
        *_files(_ML1M, "grouplens", {
            "movies.dat": "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9",
            "users.dat": "1dc3a95300cb19f7c10e027daf29b8cdf1d908dab65b5edfb45950aa389a10a3",
        }),
        *_files(_MKR, "mkr-movie", {
            "kg.txt": "60d0a28e8646423654b47a36b4438dcd70a87ac90a7d1512ef0cf59f19c869a9",
            "item_index2entity_id.txt": "ba88da11d2fffdcea4fc0d73f1fd16f5478d8fcfb362e16331dc30cceea81f60",
        }),
    ),
    source="ziqiangcui/CoLaKG data/ml-1m, GroupLens ml-1m (movies.dat, users.dat), hwwang55/MKR data/movie",
    terms="GroupLens licence: research use, no redistribution; CoLaKG descriptions are LLM-generated",
))

DATASETS.register("amazon-book", aliases=("kgat-amazon-book",))(DatasetSpec(
    name="amazon-book",
    description="KGAT's Amazon-book split (70,679 users, 24,915 books, 846,434 interactions); its KG is not "
    "available here, so it loads as collaborative data only",
    loader=lambda folder: load_kgat(folder, "amazon-book"),
    files=_files(_KGAT, "", {
        "train.txt": "4d10106bb06a77e11df660429903c0067aeb85b86431807836b0d8b7edc30c38",
        "test.txt": "f47eff9d35fb95c07d74251a991478a84095ce6c5969b0dafcb4afe99fc716ec",
        "item_list.txt": "efea8518cd68e515584fdfbfca95f318b25ef551c64498c5935897c2b02e436f",
    }),
    source="xiangwang1223/knowledge_graph_attention_network Data/amazon-book",
    terms="KGAT data terms: research use, no redistribution, no de-anonymisation",
    folder="kgat/amazon-book",
))

DATASETS.register("amazon-scientific", aliases=("scientific", "amazon-industrial-scientific"))(DatasetSpec(
    name="amazon-scientific",
    description="Amazon 2018 Industrial & Scientific, 5-core (8,317 users, 4,344 products, 58,492 purchases in "
    "time order); titles, descriptions, brands and category paths, the KG built from brand and categories",
    loader=lambda folder: load_letter(folder, "amazon-scientific"),
    files=_files(_LETTER, "", {
        "Scientific.inter.json": "32c6c01876ebecebdfabd2dbd358594be36655e9e7b168772a7a3aa3624ee1b4",
        "Scientific.item.json": "ad24200106868dac2b544d812305d61a11bf07fed78b2f7cdca41d66f3418e71",
    }),
    source="Nishikata97/CollisionGenRec data/Scientific (from Ni, Li & McAuley's Amazon Review Data 2018)",
    terms="Amazon Review Data (2018): research use; no terms stated by the source repository",
))

DATASETS.register("yelp-hin", aliases=("yelp", "yelp-social"))(DatasetSpec(
    name="yelp-hin",
    description="Yelp from HIN-Datasets (16,239 users, 14,284 businesses, 198,397 ratings 1–5); business "
    "categories and cities as the KG, 79,295 friendships as the social graph, compliments as a user field",
    loader=load_hin_yelp,
    files=_files(_HIN, "", {
        "user_business.dat": "d57853e95c3f49f0060f31ee9365ab3fffe1010999c76863c3cd9628b91e994d",
        "business_category.dat": "d3c1499e406c0a842b3c08c478ffe7bf26a8758b630e0b056d0f4bcf18c01a5b",
        "business_city.dat": "09c009dfa16709aff52de4831b9cb30f45a16dcfce1db06858d54af6ef5f7d1e",
        "user_compliment.dat": "e7f5c15155bf0843e3bdf9fb4743bb3ebf76826b4108e9e194fd637e0bb05ed6",
        "user_user.dat": "d360f88f66b7ba9a1fd460b8c414dba1bec6489773283083a614a77925bcaaed",
    }),
    source="librahu/HIN-Datasets-for-Recommendation-and-Network-Embedding Yelp (a subset of the Yelp dataset)",
    terms="a subset of the Yelp Open Dataset: Yelp's dataset licence applies (academic use); the source "
    "repository states no terms",
))


def locate(name: str, *, download_missing: bool = True, show_progress: bool = True) -> tuple[DatasetSpec, Path]:
    """Find a built-in dataset's folder in the data dir or cache, downloading it into the cache if needed."""
    spec = DATASETS.get(name)
    tried = []
    if os.environ.get(DATA_DIR_ENV):
        folder = Path(os.environ[DATA_DIR_ENV]) / (spec.folder or spec.name)
        if spec.present_in(folder):
            return spec, folder
        tried.append(f"${DATA_DIR_ENV}/{spec.folder or spec.name} = {folder}")
    else:
        tried.append(f"${DATA_DIR_ENV} (not set)")
    folder = cache_dir() / spec.name
    if spec.present_in(folder):
        return spec, folder
    tried.append(f"the cache {folder}")
    hint = (f"Set {DATA_DIR_ENV} to a folder that holds {spec.name}/ (e.g. export {DATA_DIR_ENV}=../shared/data), "
            f"or pass the dataset folder's path instead of its name.")
    if not download_missing:
        raise DatasetNotFoundError(f"dataset {spec.name!r} not found; looked in {'; '.join(tried)}. {hint}")
    try:
        download(spec.files, folder, show_progress=show_progress)
    except (OSError, DataError) as e:
        raise DatasetNotFoundError(
            f"dataset {spec.name!r} not found locally (looked in {'; '.join(tried)}) and the download from "
            f"{spec.source} failed: {e}. {hint}"
        ) from None
    return spec, folder


def load_dataset(name_or_path: str | Path, *, download_missing: bool = True, show_progress: bool = True) -> Dataset:
    """Load a built-in dataset by name, or any dataset folder by path (format detected from its files), with
    users and items in ``Dataset.canonical`` order."""
    path = Path(name_or_path)
    if path.is_dir():
        spec = next((s for _, s in DATASETS if s.name == path.name and s.present_in(path)), None)
        return (spec.loader(path) if spec is not None else load_folder(path)).canonical()
    if str(name_or_path) not in DATASETS and (os.sep in str(name_or_path) or path.suffix):
        raise DatasetNotFoundError(f"no such dataset folder: {path}")
    spec, folder = locate(str(name_or_path), download_missing=download_missing, show_progress=show_progress)
    return spec.loader(folder).canonical()


