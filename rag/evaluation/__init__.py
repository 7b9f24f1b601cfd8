"""Evaluation: question sets (JSONL) and the XQuAD benchmark run through the real pipeline."""
