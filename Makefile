# kinema: `make run` (install what is missing, build, demo) and `make test`.
CARGO ?= cargo

.PHONY: deps build run test lint bench-decode bench-loader bench-deploy gluoncv-reference parity onednn3 fuzz

deps:
	bash scripts/install-deps.sh

build: deps
	$(CARGO) build --release --locked -p kinema-cli

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

# Eval forward beside MXNet fused, onnxruntime and PyTorch (bench/deploy/README.md).
bench-deploy: build
	bash bench/deploy/run.sh

# The oneDNN FFI and the engine against oneDNN 3.x (a second build, in target/onednn3).
onednn3:
	bash scripts/test-onednn3.sh

# Side-by-side decode benchmark against decord, PyAV, OpenCV, torchcodec (bench/decode/README.md).
bench-decode: build
	bash bench/decode/run.sh

# kinema's clip loader beside GluonCV's (mxnet DataLoader + decord) on the synthetic dataset.
bench-loader: build
	bash bench/loader/run.sh

# Re-export GluonCV's frame ids and crops for the parity test (builds the cached venv).
gluoncv-reference:
	"$$(bash tools/gluoncv-venv.sh)" tools/gluoncv_indices.py crates/kinema-data/tests/data/gluoncv_reference.json

# Model parity with GluonCV (.params), torchvision and GluonCV's PyTorch port (.pth): export
# random-init fixtures (cached), run the ignored parity tests.
FIXTURES ?= $(HOME)/.cache/kinema/fixtures
PARITY_MODELS ?= resnet18_v1b_kinetics400 i3d_resnet50_v1_kinetics400 i3d_nl5_resnet50_v1_kinetics400 slowfast_4x16_resnet50_kinetics400 slowfast_8x8_resnet50_kinetics400 r2plus1d_resnet18_kinetics400 r2plus1d_resnet50_kinetics400 c3d_kinetics400 inceptionv1_kinetics400 inceptionv3_kinetics400 vgg16_ucf101 i3d_inceptionv1_kinetics400 i3d_inceptionv3_kinetics400 p3d_resnet50_kinetics400 i3d_slow_resnet101_f16s4_kinetics700
TORCHVISION_PARITY_MODELS ?= r3d_18 mc3_18 r2plus1d_18
parity:
	"$$(bash tools/gluoncv-venv.sh)" tools/gluoncv_fixtures.py --out $(FIXTURES) --skip-existing $(PARITY_MODELS)
	"$$(bash tools/torch-venv.sh)" tools/torchvision_fixtures.py --out $(FIXTURES) --skip-existing $(TORCHVISION_PARITY_MODELS)
	"$$(bash tools/torch-venv.sh)" tools/gluoncv_torch_fixtures.py --out $(FIXTURES) --skip-existing
	KINEMA_FIXTURES=$(FIXTURES) $(CARGO) test --release -p kinema-models --test parity -- --ignored --nocapture

# Fuzz open + decode (needs cargo-fuzz; RUSTC_BOOTSTRAP lets the stable toolchain build it).
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && ls corpus/open_decode/* >/dev/null 2>&1 || bash make_seeds.sh corpus/open_decode
	# The real-world corpus's small files seed it too, when fetched (tools/realworld/fetch.sh).
	rw=$${KINEMA_CACHE:-$$HOME/.cache/kinema}/realworld; [ ! -d "$$rw" ] || \
		find "$$rw" -maxdepth 1 -type f -size -300k -exec cp -n {} fuzz/corpus/open_decode/ \;
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run open_decode corpus/open_decode -- \
		-max_total_time=$${FUZZ_SECONDS:-600} -rss_limit_mb=4096 -timeout=30
