"""Segmentation's queries, one module per concern. They make no decisions: the domain modules
(`scoring`, `profiles`, `rules`, `metrics`, `broadcasts`, `experiments`) do."""
