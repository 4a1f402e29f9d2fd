#!/usr/bin/env bash
# Build the TensorRT-LLM engine for GPT-J 6B Vietnamese News and lay out the Triton model
# repository that model_repository/gptj/config.pbtxt describes:
#
#   <out>/gptj/config.pbtxt        copied from this repository
#   <out>/gptj/1/engine/           rank*.engine + config.json from trtllm-build
#   <out>/gptj/tokenizer/          the checkpoint's tokenizer files, for the Preprocessor (Model:Path)
#
# Run it INSIDE NVIDIA's TensorRT-LLM container whose TensorRT-LLM version equals the one in
# the Triton image that will serve the engine (an engine only loads in the TensorRT-LLM and
# TensorRT it was built with). This repository pins:
#   Triton:       nvcr.io/nvidia/tritonserver:25.12-trtllm-python-py3   (TensorRT-LLM 1.1.0)
#   Build image:  nvcr.io/nvidia/tensorrt-llm/release:1.1.0
# for example:
#   docker run --rm --gpus all --ipc=host -v "$PWD:/src" -v /data/models:/models \
#     nvcr.io/nvidia/tensorrt-llm/release:1.1.0 \
#     bash /src/tools/trtllm/build_engine.sh --checkpoint /models/hf/gpt-j-6B-vietnamese-news --out /models
#
# Options:
#   --checkpoint DIR   Hugging Face checkpoint folder (config.json, pytorch_model.bin, tokenizer
#                      files). If DIR does not exist it is downloaded from the Hub repository
#                      given by --hf-repo (default VietAI/gpt-j-6B-vietnamese-news).
#   --out DIR          model repository root to write (default /models)
#   --precision P      fp16 (default; ~12 GB of weights, one 16 GB GPU)
#                      int8-wo (INT8 weight-only; ~6 GB, fits 8-12 GB GPUs, small quality loss)
#                      fp8 (FP8 weights and KV cache; Ada/Hopper GPUs such as H100 only; calibrates
#                      on 512 samples of cnn_dailymail, which it downloads)
#   --tp N             tensor parallelism (GPUs per engine; default 1, 2 splits fp16 over two 8+ GB GPUs)
#   --max-batch N      sequences decoded together (default 64; config.pbtxt max_batch_size matches)
#   --config FILE      config.pbtxt to install (default: model_repository/gptj/config.pbtxt next to this script)
set -euo pipefail

checkpoint=""
hf_repo="VietAI/gpt-j-6B-vietnamese-news"
out="/models"
precision="fp16"
tp=1
max_batch=64
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
config="$script_dir/../../model_repository/gptj/config.pbtxt"
examples="${TRTLLM_EXAMPLES:-/app/tensorrt_llm/examples}"

die() { echo "build_engine.sh: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --checkpoint) checkpoint="$2"; shift 2 ;;
    --hf-repo) hf_repo="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --precision) precision="$2"; shift 2 ;;
    --tp) tp="$2"; shift 2 ;;
    --max-batch) max_batch="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

[[ -n "$checkpoint" ]] || die "--checkpoint is required"
[[ -f "$config" ]] || die "config.pbtxt not found at '$config' (use --config)"
[[ "$tp" =~ ^[1-9][0-9]*$ ]] || die "--tp must be a positive integer, got '$tp'"
[[ "$max_batch" =~ ^[1-9][0-9]*$ ]] || die "--max-batch must be a positive integer, got '$max_batch'"
convert="$examples/models/contrib/gptj/convert_checkpoint.py"
quantize="$examples/quantization/quantize.py"
[[ -f "$convert" ]] || die "TensorRT-LLM examples not found at '$examples' (set TRTLLM_EXAMPLES); run inside the TensorRT-LLM container"
command -v trtllm-build >/dev/null || die "trtllm-build not on PATH; run inside the TensorRT-LLM container"

log() { echo "[$(date -u +%H:%M:%S)] $*"; }

if [[ ! -d "$checkpoint" ]]; then
  log "downloading $hf_repo to $checkpoint"
  huggingface-cli download "$hf_repo" --local-dir "$checkpoint"
fi
[[ -f "$checkpoint/config.json" ]] || die "'$checkpoint' has no config.json: not a Hugging Face checkpoint"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
trt_ckpt="$work/trtllm-checkpoint"

# 1. Hugging Face weights -> TensorRT-LLM checkpoint (per-rank safetensors + config.json).
case "$precision" in
  fp16)
    log "converting checkpoint (fp16, tp=$tp)"
    python3 "$convert" --model_dir "$checkpoint" --dtype float16 --tp_size "$tp" --output_dir "$trt_ckpt" ;;
  int8-wo)
    log "converting checkpoint (INT8 weight-only, tp=$tp)"
    python3 "$convert" --model_dir "$checkpoint" --dtype float16 --tp_size "$tp" \
      --use_weight_only --weight_only_precision int8 --output_dir "$trt_ckpt" ;;
  fp8)
    log "quantizing checkpoint to FP8 (weights and KV cache, 512 calibration samples, tp=$tp)"
    python3 "$quantize" --model_dir "$checkpoint" --dtype float16 --qformat fp8 --kv_cache_dtype fp8 \
      --calib_size 512 --tp_size "$tp" --output_dir "$trt_ckpt" ;;
  *) die "--precision must be fp16, int8-wo or fp8, got '$precision'" ;;
esac

# 2. TensorRT-LLM checkpoint -> engine. What config.pbtxt relies on:
#    paged KV cache (in-flight batching), paged context FMHA (KV-cache reuse across requests
#    sharing a prompt prefix), removed input padding (ragged input_ids), GPT-J's 2048 context.
engine="$work/engine"
log "building engine (max batch $max_batch, context 2048)"
build_args=(
  --checkpoint_dir "$trt_ckpt"
  --output_dir "$engine"
  --gemm_plugin auto
  --gpt_attention_plugin auto
  --kv_cache_type paged
  --remove_input_padding enable
  --context_fmha enable
  --use_paged_context_fmha enable
  --max_batch_size "$max_batch"
  --max_input_len 2047
  --max_seq_len 2048
  --max_num_tokens 8192
  --workers "$tp"
)
if [[ "$precision" == fp8 ]]; then
  build_args+=(--use_fp8_context_fmha enable)
fi
trtllm-build "${build_args[@]}"

# 3. Lay out the model repository. Replace the engine atomically so a running Triton never
#    sees half an engine on restart.
log "installing into $out/gptj"
mkdir -p "$out/gptj/1" "$out/gptj/tokenizer"
# (Building into this repository's own model_repository/ leaves its config.pbtxt in place.)
if [[ ! "$config" -ef "$out/gptj/config.pbtxt" ]]; then
  cp "$config" "$out/gptj/config.pbtxt"
fi
sed -i "s/^max_batch_size: .*/max_batch_size: $max_batch/; s/preferred_batch_size: \[ [0-9]* \]/preferred_batch_size: [ $max_batch ]/; s/key: \"max_num_sequences\" value: { string_value: \"[0-9]*\" }/key: \"max_num_sequences\" value: { string_value: \"$max_batch\" }/" "$out/gptj/config.pbtxt"
rm -rf "$out/gptj/1/engine.new"
cp -r "$engine" "$out/gptj/1/engine.new"
rm -rf "$out/gptj/1/engine"
mv "$out/gptj/1/engine.new" "$out/gptj/1/engine"
for f in config.json tokenizer.json tokenizer_config.json vocab.json merges.txt special_tokens_map.json added_tokens.json; do
  if [[ -f "$checkpoint/$f" ]]; then cp "$checkpoint/$f" "$out/gptj/tokenizer/"; fi
done
[[ -f "$out/gptj/tokenizer/tokenizer.json" || -f "$out/gptj/tokenizer/vocab.json" ]] \
  || die "the checkpoint has neither tokenizer.json nor vocab.json + merges.txt"

log "done: $(du -sh "$out/gptj/1/engine" | cut -f1) engine in $out/gptj/1/engine"
