# The two commands of the README: `make demo` and `make test`. Both set up first.
SHELL := /bin/bash
export VTK_DEFAULT_OPENGL_WINDOW := vtkEGLRenderWindow

.PHONY: setup demo test lint bench evaluate samples

setup:
	bash scripts/setup.sh

demo: setup
	ivcplan analyze sample_dicom/case_a_renal -o out/demo
	@echo "Report: out/demo/report.html"

test: setup
	xvfb-run -a -s "-screen 0 1600x1000x24" python3 -m pytest -q -n 2 --durations=15

lint:
	ruff check ivcplan tests scripts

samples: setup
	python3 scripts/make_sample_dicom.py

bench: setup
	python3 scripts/bench_load.py

evaluate: setup
	python3 scripts/evaluate.py
