# Two entry points: `make demo` (the main job on the embedded simulator) and `make test` (everything CI runs).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install lint unit

$(BIN)/slotune: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(BIN)/slotune

install: $(BIN)/slotune

DEMO := results/demo

# Workload -> plan -> simulate (the interactive-chat SLO is not met at vLLM's defaults) -> tune (the configuration
# that meets it, what it costs, and the baselines) -> one report. The tune study is kept in $(DEMO)/tune.db: a
# second `make demo` (or one stopped with Ctrl-C) resumes it instead of starting again.
demo: install
	$(BIN)/slotune workload synth --preset chatbot --rate 8 --duration 120 --seed 0 --out $(DEMO)/chat.jsonl
	$(BIN)/slotune plan --model llama-3.1-8b --gpu h100-sxm --workload $(DEMO)/chat.jsonl --slo interactive-chat
	$(BIN)/slotune simulate --model llama-3.1-8b --gpu h100-sxm --workload $(DEMO)/chat.jsonl --slo interactive-chat --out $(DEMO)/run.json
	$(BIN)/slotune tune --model llama-3.1-8b --gpu h100-sxm --workload $(DEMO)/chat.jsonl --slo interactive-chat \
		--rate 8 --budget 30 --num-requests 300 --storage sqlite:///$(DEMO)/tune.db --out $(DEMO)/tune.json
	$(BIN)/slotune report $(DEMO)/run.json $(DEMO)/tune.json -o $(DEMO)/report.html
	@echo "demo report: $(CURDIR)/$(DEMO)/report.html"

lint: install
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q

# The vLLM (CPU) venv takes torch from a local wheel folder where the machine has one (TORCH_WHEEL_DIR, or pip's
# find-links), else from PyTorch's CPU wheel index: see scripts/setup_integration.sh.
test: lint
	PYTHON=$(PY) bash scripts/setup_integration.sh
	bash scripts/setup_report_browser.sh
	bash scripts/setup_postgres.sh
	bash scripts/setup_monitoring.sh
	$(BIN)/pytest -q --timeout 900
