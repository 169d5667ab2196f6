"""Knowledge-graph stage: graph stores, KG preparation and the collaborative knowledge graph."""
