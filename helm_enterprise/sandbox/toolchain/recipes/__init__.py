"""One module per tool family; each exposes ``RECIPES: list[Recipe]``."""
