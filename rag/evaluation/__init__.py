"""Evaluation: question sets (JSONL, CSV, feedback files) and XQuAD run through the real pipeline; reports
(tables, ``html_report``), run comparison (``compare``) and ragas interoperability (``ragas_bridge``)."""
