"""A faithful re-creation of the seed's original script (Chollet, Deep Learning with Python 8.1).

Corpus-sized numpy bool one-hot arrays ``x [n_windows, 60, 57]`` and ``y [n_windows, 57]``,
``Sequential([LSTM(128), Dense(softmax)])``, ``RMSprop(0.01)``, ``fit(batch_size=128)`` one
epoch at a time, and generation by re-encoding the window and calling ``model.predict`` for
every character. Run it for its peak memory and epoch time:

    python benchmarks/seed_original.py --epochs 1 --json /tmp/seed_original.json

``sample`` and ``generate`` are imported by ``generation_speed.py`` as the seed-style path.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import keras
import numpy as np

CORPUS = "/work/shared/corpora/nietzsche.txt"
MAXLEN, STEP = 60, 3


def sample(preds, temperature=1.0):
    """The seed's sampler, verbatim: reweight the softmax output, draw one multinomial sample."""
    preds = np.asarray(preds).astype("float64")
    preds = np.log(preds) / temperature
    exp_preds = np.exp(preds)
    preds = exp_preds / np.sum(exp_preds)
    probas = np.random.multinomial(1, preds, 1)
    return np.argmax(probas)


def vectorize(text: str, chars: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The seed's data: every 3rd 60-char window, one-hot, with the next char one-hot."""
    sentences, next_chars = [], []
    for i in range(0, len(text) - MAXLEN, STEP):
        sentences.append(text[i: i + MAXLEN])
        next_chars.append(text[i + MAXLEN])
    char_indices = {char: chars.index(char) for char in chars}
    x = np.zeros((len(sentences), MAXLEN, len(chars)), dtype=np.bool_)
    y = np.zeros((len(sentences), len(chars)), dtype=np.bool_)
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1
    return x, y


def build(n_chars: int, units: int = 128) -> keras.Model:
    model = keras.models.Sequential([keras.Input((MAXLEN, n_chars)), keras.layers.LSTM(units),
                                     keras.layers.Dense(n_chars, activation="softmax")])
    model.compile(loss="categorical_crossentropy",
                  optimizer=keras.optimizers.RMSprop(learning_rate=0.01))
    return model


def generate(model: keras.Model, seed_text: str, chars: list[str], length: int,
             temperature: float = 1.0) -> str:
    """The seed's generation loop: one-hot the last 60 chars, ``model.predict``, ``sample``."""
    char_indices = {char: chars.index(char) for char in chars}
    generated_text = seed_text[-MAXLEN:]
    out = ""
    for _ in range(length):
        sampled = np.zeros((1, MAXLEN, len(chars)))
        for t, char in enumerate(generated_text):
            sampled[0, t, char_indices[char]] = 1.0
        preds = model.predict(sampled, verbose=0)[0]
        next_char = chars[sample(preds, temperature)]
        generated_text = generated_text[1:] + next_char
        out += next_char
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--generate", type=int, default=0, help="chars to generate at the end")
    parser.add_argument("--json", help="write the timings here")
    args = parser.parse_args()

    start = time.perf_counter()
    text = open(CORPUS, encoding="utf-8").read().lower()
    chars = sorted(set(text))
    x, y = vectorize(text, chars)
    prepare = time.perf_counter() - start
    print(f"{x.shape[0]} windows, {len(chars)} chars, x {x.nbytes / 2**20:.0f} MB bool, "
          f"prepared in {prepare:.1f} s", flush=True)
    model = build(len(chars))
    epochs = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        hist = model.fit(x, y, batch_size=128, epochs=1, verbose=2)
        epochs.append({"epoch": epoch + 1, "seconds": time.perf_counter() - t0,
                       "loss": float(hist.history["loss"][-1])})
        print(epochs[-1], flush=True)
    result = {"windows": int(x.shape[0]), "vocab": len(chars), "x_mb": x.nbytes / 2**20,
              "prepare_seconds": prepare, "epochs": epochs}
    if args.generate:
        t0 = time.perf_counter()
        generate(model, text[:MAXLEN], chars, args.generate)
        result["generate_chars_per_second"] = args.generate / (time.perf_counter() - t0)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
