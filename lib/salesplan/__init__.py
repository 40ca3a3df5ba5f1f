"""salesplan: an open sales-planning workbook (review, targets, forecast, retrospective)."""

__version__ = "0.1.0"
