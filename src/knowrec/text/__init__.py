"""Text: item and user texts built from their fields and KG facts, encoded by a pretrained language model."""

from knowrec.text.encoder import DEFAULT_TEXT_MODEL, TextEncoder
from knowrec.text.templates import item_texts, user_texts

__all__ = ["DEFAULT_TEXT_MODEL", "TextEncoder", "item_texts", "user_texts"]
