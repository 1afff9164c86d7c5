"""BN209 gan-freeze-between-compiles."""

from __future__ import annotations

from collections.abc import Iterator

from bnlint.probe.scenario import scenario
from bnlint.rule import Example, Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import Event, call_notes
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.values import Layer

_FAQ_RECIPE = """
import keras
from keras import layers
discriminator = keras.Sequential(
    [layers.Dense(64), layers.BatchNormalization(), layers.Dense(1, activation="sigmoid")]
)
generator = keras.Sequential([layers.Dense(64), layers.Dense(784)])
discriminator.compile(optimizer="adam", loss="binary_crossentropy")
discriminator.trainable = False
z = keras.Input((100,))
gan = keras.Model(z, discriminator(generator(z)))
gan.compile(optimizer="adam", loss="binary_crossentropy")
for step in range(1000):
    discriminator.train_on_batch(images, labels)
    gan.train_on_batch(noise, ones)
"""

_TOGGLED = """
import keras
from keras import layers
d = keras.Sequential([layers.Dense(64), layers.BatchNormalization(), layers.Dense(1)])
g = keras.Sequential([layers.Dense(64), layers.Dense(784)])
d.compile(optimizer="adam", loss="binary_crossentropy")
d.trainable = False
z = keras.Input((100,))
gan = keras.Model(z, d(g(z)))
gan.compile(optimizer="adam", loss="binary_crossentropy")
d.trainable = True
d.compile(optimizer="adam", loss="binary_crossentropy")
d.train_on_batch(images, labels)
"""


class GanFreezeBetweenCompiles(Rule):
    """## What it does
    Flags the Keras FAQ GAN recipe under Keras 3: the discriminator `D` is compiled,
    then frozen with `D.trainable = False`, then a combined model containing `D` is
    compiled, and `D` is later trained on its own (`D.train_on_batch` / `D.fit`)
    without setting `D.trainable = True` and recompiling it first. Silent for tf-keras
    and standalone Keras 2, where the recipe works.

    Silent when nothing says which Keras the code targets (no `target-keras`, no pin, no
    API only one generation of Keras has): the recipe is right in Keras 2 and tf-keras.

    ## Why is this bad?
    The recipe relies on `compile()` snapshotting trainability: `D` was trainable when
    *it* was compiled, so it should keep training on its own while the combined model
    treats it as frozen. tf-keras implements that snapshot; Keras 3 does not (F9): it
    reads `trainable` when `D`'s train function is first traced, which happens after
    the freeze. So in Keras 3 the discriminator trains nothing — no weight and no BN
    statistic moves, and Keras only logs "The model does not have any trainable
    weights" (F10, measured on every backend).

    ## Example
    ```python
    discriminator.compile(optimizer="adam", loss="binary_crossentropy")
    discriminator.trainable = False
    gan = keras.Model(z, discriminator(generator(z)))
    gan.compile(optimizer="adam", loss="binary_crossentropy")
    discriminator.train_on_batch(images, labels)  # trains nothing in Keras 3
    ```

    ## Use instead
    Write the GAN with a custom `train_step` (keras-io DCGAN/WGAN-GP examples), or
    toggle explicitly and recompile:
    ```python
    discriminator.trainable = True
    discriminator.compile(optimizer="adam", loss="binary_crossentropy")
    discriminator.train_on_batch(images, labels)
    discriminator.trainable = False
    gan.compile(optimizer="adam", loss="binary_crossentropy")
    gan.train_on_batch(noise, ones)
    ```

    ## Fix safety
    No automatic fix: the training loop has to be restructured.

    ## References
    - keras-io FAQ "What does `trainable` mean and how does it interact with
      `compile()`?" (the recipe)
    - keras-io example "DCGAN to generate face images" (custom `train_step`)
    """

    code = "BN209"
    name = "gan-freeze-between-compiles"
    severity = "error"
    reads_program = True
    summary = "the compile/freeze/compile GAN recipe trains no discriminator in Keras 3"
    needles = (b"trainable",)
    flagged = (
        # the models come from helpers defined elsewhere (the usual forum snippet)
        Example("""
        from keras.layers import Input
        from keras.models import Model
        from models import build_discriminator, build_generator
        discriminator = build_discriminator()
        discriminator.compile(loss="binary_crossentropy", optimizer="adam")
        generator = build_generator()
        z = Input(shape=(100,))
        discriminator.trainable = False
        combined = Model(z, discriminator(generator(z)))
        combined.compile(loss="binary_crossentropy", optimizer="adam")
        for step in range(10000):
            discriminator.train_on_batch(images, labels)
            combined.train_on_batch(noise, valid)
        """, target="keras3"),
        Example(_FAQ_RECIPE, target="keras3"),
        Example(_FAQ_RECIPE, target="keras3", keras_version="3.8"),
        Example("""
        from tensorflow import keras
        from tensorflow.keras import layers
        def build_discriminator():
            return keras.Sequential([layers.Conv2D(64, 3), layers.BatchNormalization(),
                                     layers.Flatten(), layers.Dense(1)])
        disc = build_discriminator()
        gen = keras.Sequential([layers.Dense(128), layers.Reshape((4, 4, 8))])
        disc.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), "binary_crossentropy")
        disc.trainable = False
        noise = keras.Input((100,))
        combined = keras.Model(noise, disc(gen(noise)))
        combined.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), "binary_crossentropy")
        disc.fit(images, labels, epochs=1)
        """, target="keras3"),
        Example("""
        import keras
        from keras import layers
        d = keras.Sequential([layers.Dense(32), layers.Dense(1)])
        g = keras.Sequential([layers.Dense(32)])
        d.compile("adam", "binary_crossentropy")
        d.trainable = False
        gan = keras.Sequential([g, d])
        gan.compile("adam", "binary_crossentropy")
        gan.train_on_batch(noise, ones)
        d.train_on_batch(images, labels)
        """, target="keras3"),
    )
    not_flagged = (
        Example(_FAQ_RECIPE, target="tf-keras"),
        Example(_FAQ_RECIPE, target="keras2"),
        Example(_TOGGLED, target="keras3", keras_version="3.8"),
        """
        import keras
        from keras import layers
        class GAN(keras.Model):
            def __init__(self, discriminator, generator):
                super().__init__()
                self.discriminator = discriminator
                self.generator = generator
            def train_step(self, data):
                return {}
        d = keras.Sequential([layers.Dense(64), layers.BatchNormalization(), layers.Dense(1)])
        g = keras.Sequential([layers.Dense(64), layers.Dense(784)])
        gan = GAN(d, g)
        gan.compile(optimizer="adam")
        gan.fit(dataset, epochs=10)
        """,
        """
        import keras
        from keras import layers
        d = keras.Sequential([layers.Dense(64), layers.BatchNormalization(), layers.Dense(1)])
        g = keras.Sequential([layers.Dense(64), layers.Dense(784)])
        d.compile(optimizer="adam", loss="binary_crossentropy")
        d.trainable = False
        z = keras.Input((100,))
        gan = keras.Model(z, d(g(z)))
        gan.compile(optimizer="adam", loss="binary_crossentropy")
        gan.train_on_batch(noise, ones)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        if not ctx.flavour.is_keras3 or ctx.flavour.assumed:
            return
        events = ctx.model.events
        for position, freeze in enumerate(events):
            if freeze.kind != "set_trainable" or not wf.trusted(freeze):
                continue
            target = freeze.target
            if not isinstance(target, Layer) or not wf.assigns(freeze, False):
                continue
            found = _recipe(ctx.model, position, target)
            if found is None:
                continue
            own_compile, combined_compile, combined, train = found
            name = wf.describe(target)
            yield Report(
                freeze.node,
                f"{name} is frozen after its own compile() and trained on its own later: "
                "Keras 3 does not snapshot trainability at compile() (tf-keras does), so "
                f"{name} trains nothing; write the GAN with a custom train_step, or set "
                f"`{_label(target)}.trainable = True` and recompile it before training it",
                (
                    *call_notes(freeze, "the freeze"),
                    (own_compile.node, f"{name} is compiled here while trainable"),
                    (combined_compile.node,
                     (f"{wf.describe(combined)}, which contains {name}, is compiled "
                      "here with it frozen")),
                    (train.node, f"{name} is trained here: still frozen in Keras 3"),
                ),
                scenario=scenario(self.code),
            )


def _label(layer: Layer) -> str:
    return layer.label or "discriminator"


def _recipe(model: SemanticModel, position: int,
            d: Layer) -> tuple[Event, Event, Layer, Event] | None:
    """(D's compile before the freeze, the combined model's compile, the combined model,
    D's next training) when the events around the freeze at ``position`` follow the
    FAQ recipe with nothing that could undo it."""
    own_compile: Event | None = None
    for event in model.trainings.before(d, position):  # D's compiles and fits
        if event.kind == "compile":
            own_compile = event if wf.trusted(event) else None
        elif event.kind == "fit" and own_compile is not None:
            return None  # D already trained: a different (BN203-like) situation
    if own_compile is None:
        return None
    combined_compile: Event | None = None
    combined: Layer | None = None
    events = model.events
    for index in range(position + 1, len(events)):
        event = events[index]
        layer = event.layer
        if layer is None:
            continue
        if event.kind == "set_trainable" and (
            layer is d or d in layer.descendants() or layer in d.descendants()
        ):
            return None  # D's trainability changes again: not the plain recipe
        if event.kind == "compile":
            if layer is d or not wf.trusted(event):
                return None
            if combined_compile is None and d in layer.descendants():
                combined_compile, combined = event, layer
        if event.kind == "fit" and layer is d:
            if combined_compile is None or combined is None or not wf.trusted(event):
                return None
            if wf.trainable_at(event, d) is not False:
                return None
            return own_compile, combined_compile, combined, event
    return None
