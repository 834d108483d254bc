# Two entry points set everything up on a fresh machine: `make demo` and `make test`.
# Both create or update .venv; re-running when nothing changed only checks a stamp file.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.spikeport-installed

TORCH       := torch==2.14.1 torchvision==0.29.1
LAVA        := lava-nc==0.10.0 lava-dl==0.6.0
EXTRA_PKGS  := "librosa>=0.10" "numba>=0.57" "soundfile>=0.12" "tqdm>=4.60" "pytest>=7" "hypothesis>=6"
# Test dependencies that cross-check spikeport: neurobench imports snnTorch and declares torchaudio and
# tonic (which would pull another torch); its Benchmark and metrics need neither, so both go in --no-deps.
CHECK_PKGS  := neurobench==2.3.0 snntorch==1.0.0 nirtorch==2.6
# NIR graphs (spikeport nir): pure Python over numpy and h5py, which the resolver run above pinned.
NIR_PKGS    := nir==1.0.8

.PHONY: all venv test demo clean espeak

all: test

venv: $(STAMP)

$(STAMP): pyproject.toml requirements-lava.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	# One resolver run for torch and everything Lava imports keeps numpy<2 and pillow<11.
	$(BIN)/python -m pip install -q $(TORCH) -r requirements-lava.txt $(EXTRA_PKGS)
	# lava-nc/lava-dl declare Python<3.11 and pin torch<2.4: install them without their pins.
	$(BIN)/python -m pip install -q --no-deps --ignore-requires-python $(LAVA)
	$(BIN)/python -m pip install -q --no-deps $(NIR_PKGS) $(CHECK_PKGS)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

# eSpeak NG speaks the embedded keyword corpus; installed from Debian where missing.
espeak:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  echo "installing espeak-ng (Debian package)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q espeak-ng >/dev/null; }

test: $(STAMP) espeak
	$(BIN)/pytest

demo: $(STAMP) espeak
	$(BIN)/spikeport demo --out runs/demo

clean:
	rm -rf runs build *.egg-info .pytest_cache .hypothesis
