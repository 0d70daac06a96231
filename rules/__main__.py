"""python -m rules: regenerate rules/generated/ for the default configuration."""

from modelwatch.core.config import Config
from modelwatch.rules import GENERATED_DIR, write_rule_files

for path in write_rule_files(Config(), GENERATED_DIR):
    print(path)
