"""The semantic model: what the replay learns from a program, pinned on small programs."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from bnlint.semantic.build import build_model
from bnlint.semantic.events import Event
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.names import canonical
from bnlint.semantic.values import Layer, LayerSelection, ModuleRef, Variables


def model_of(code: str) -> SemanticModel:
    return build_model(cst.parse_module(textwrap.dedent(code)))


def layer_named(model: SemanticModel, label: str) -> Layer:
    matches = [layer for layer in model.layers if layer.label == label]
    assert matches, f"no layer labelled {label!r}: {[l.label for l in model.layers]}"
    return matches[-1]


def bn_layers(model: SemanticModel) -> list[Layer]:
    return [layer for layer in model.layers if layer.is_bn]


def calls(model: SemanticModel) -> list[Event]:
    return list(model.events_of("call"))


# ---------------------------------------------------------------- names and aliases
@pytest.mark.parametrize(
    ("imports", "constructor"),
    [
        ("from tensorflow.keras import layers as L", "L.BatchNormalization()"),
        ("from tensorflow.keras import layers", "layers.BatchNormalization()"),
        ("import keras", "keras.layers.BatchNormalization()"),
        ("from keras import layers", "layers.BatchNormalization()"),
        ("from keras.layers import BatchNormalization as BN", "BN()"),
        ("from tensorflow.keras.layers import BatchNormalization", "BatchNormalization()"),
        ("import tf_keras", "tf_keras.layers.BatchNormalization()"),
        ("import tf_keras as keras", "keras.layers.BatchNormalization()"),
        ("import tensorflow as tf", "tf.keras.layers.BatchNormalization()"),
        ("from tensorflow import keras", "keras.layers.BatchNormalization()"),
        ("import tensorflow.keras as K", "K.layers.BatchNormalization()"),
        ("import tensorflow.keras.layers as KL", "KL.BatchNormalization()"),
        ("from tensorflow.keras.layers import *", "BatchNormalization()"),
        ("from keras.src.layers.normalization.batch_normalization import BatchNormalization",
         "BatchNormalization()"),
        ("from tensorflow.python.keras import layers", "layers.BatchNormalization()"),
    ],
)
def test_batch_normalization_is_recognised_through_every_import_form(
    imports: str, constructor: str
) -> None:
    model = model_of(f"{imports}\nbn = {constructor}\n")
    bn = layer_named(model, "bn")
    assert bn.is_bn and bn.qualname == "keras.layers.BatchNormalization"


def test_layer_normalization_is_not_batch_normalization() -> None:
    model = model_of("from keras import layers\nln = layers.LayerNormalization()\n")
    assert not layer_named(model, "ln").is_bn


def test_v1_class_is_bn_with_v1_semantics() -> None:
    model = model_of("import tensorflow as tf\n"
                     "bn = tf.compat.v1.keras.layers.BatchNormalization()\n")
    bn = layer_named(model, "bn")
    assert bn.is_bn and bn.bn_v1


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("tensorflow.keras", "keras"),
        ("tensorflow.python.keras", "keras"),
        ("tf_keras", "keras"),
        ("keras.src", "keras"),
        ("tensorflow.keras.layers", "keras.layers"),
        ("tensorflow", "tf"),
        ("tf_keras.layers.experimental.SyncBatchNormalization",
         "keras.layers.experimental.SyncBatchNormalization"),
    ],
)
def test_canonical_names_collapse_module_paths(written: str, expected: str) -> None:
    assert canonical(written) == expected


def test_layers_module_bound_by_import_is_a_module_ref() -> None:
    model = model_of("""
        from keras import layers
        for layer in model.layers:
            layers.trainable = False
    """)
    (event,) = model.events_of("set_trainable")
    assert isinstance(event.target, ModuleRef) and event.target.name == "keras.layers"
    assert event.context.loop_depth == 1


# ------------------------------------------------------------ loops and guards
def test_isinstance_guard_in_a_loop_freezes_only_the_bn_layers() -> None:
    model = model_of("""
        import keras
        from keras import layers
        model = keras.Sequential([layers.Dense(4), layers.BatchNormalization()])
        for layer in model.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
    """)
    (bn,) = bn_layers(model)
    dense = next(layer for layer in model.layers if layer.qualname == "keras.layers.Dense")
    assert bn.trainable is False and dense.trainable is True
    (event,) = model.events_of("set_trainable")
    assert isinstance(event.target, LayerSelection) and event.target.guard == "bn"
    assert event.context.definite


def test_negated_isinstance_guard_freezes_everything_but_bn() -> None:
    model = model_of("""
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Dense(4),
                                     tf.keras.layers.BatchNormalization()])
        for layer in model.layers:
            if not isinstance(layer, tf.keras.layers.BatchNormalization):
                layer.trainable = False
    """)
    (bn,) = bn_layers(model)
    dense = next(layer for layer in model.layers if layer.qualname == "keras.layers.Dense")
    assert bn.trainable is True and dense.trainable is False


def test_name_guard_selects_bn_layers_of_an_application() -> None:
    model = model_of("""
        import keras
        base = keras.applications.ResNet50()
        for layer in base.layers:
            if "bn" in layer.name:
                layer.trainable = False
    """)
    base = layer_named(model, "base")
    assert base.inner_bn_trainable is False and base.inner_other_trainable is True


# ---------------------------------------------------------------- branches
def test_a_freeze_in_one_branch_joins_to_unknown() -> None:
    model = model_of("""
        from keras import layers
        bn = layers.BatchNormalization()
        if freeze:
            bn.trainable = False
    """)
    assert layer_named(model, "bn").trainable is None
    (event,) = model.events_of("set_trainable")
    assert not event.context.definite


def test_names_bound_differently_in_two_branches_become_unknown() -> None:
    model = model_of("""
        from keras import layers
        if big:
            norm = layers.BatchNormalization()
        else:
            norm = layers.LayerNormalization()
        y = norm(x)
    """)
    assert not calls(model)


def test_a_state_changed_in_branches_is_unknown_even_when_both_agree() -> None:
    # Conservative on purpose: branch states are not joined path by path.
    model = model_of("""
        from keras import layers
        bn = layers.BatchNormalization()
        if a:
            bn.trainable = False
        else:
            bn.trainable = False
    """)
    assert layer_named(model, "bn").trainable is None


def test_a_state_set_before_a_branch_that_does_not_touch_it_stays_known() -> None:
    model = model_of("""
        from keras import layers
        bn = layers.BatchNormalization()
        bn.trainable = False
        if verbose:
            print(bn)
    """)
    assert layer_named(model, "bn").trainable is False


def test_symbolic_tensors_from_two_branches_join_into_one_graph() -> None:
    model = model_of("""
        import keras
        from keras import layers
        inputs = keras.Input((8,))
        shortcut = inputs
        if project:
            shortcut = layers.Dense(8)(inputs)
        x = layers.BatchNormalization()(inputs)
        x = layers.Add()([x, shortcut])
        model = keras.Model(inputs, x)
    """)
    net = layer_named(model, "model")
    assert net.contains_bn() is True
    assert {w.child.qualname for w in net.children} >= {
        "keras.layers.Dense", "keras.layers.BatchNormalization", "keras.layers.Add"}


# ---------------------------------------------------------------- functions
def test_a_function_is_replayed_at_its_call_site_with_its_arguments() -> None:
    model = model_of("""
        import keras
        def freeze(m):
            m.trainable = False
        base = keras.applications.ResNet50()
        freeze(base)
    """)
    assert layer_named(model, "base").trainable is False
    (event,) = model.events_of("set_trainable")
    assert event.context.function == "freeze" and not event.context.standalone


def test_a_function_never_called_is_replayed_standalone() -> None:
    model = model_of("""
        from keras import layers
        def block(x):
            return layers.BatchNormalization(training=False)(x)
    """)
    (call,) = (site for site in model.calls if site.name == "keras.layers.BatchNormalization")
    assert call.context.standalone


def test_a_builder_function_returns_its_model() -> None:
    model = model_of("""
        import keras
        from keras import layers
        def build():
            return keras.Sequential([layers.Dense(4), layers.BatchNormalization()])
        model = build()
        model.fit(x, y)
    """)
    (fit,) = model.events_of("fit")
    assert isinstance(fit.target, Layer) and fit.target.contains_bn() is True


def test_an_unknown_callee_forgets_the_trainable_state_of_its_arguments() -> None:
    model = model_of("""
        from keras import layers
        bn = layers.BatchNormalization(trainable=False)
        configure(bn)
    """)
    assert layer_named(model, "bn").trainable is None


def test_methods_of_a_never_instantiated_class_run_standalone_on_a_prototype() -> None:
    model = model_of("""
        import keras
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.bn = keras.layers.BatchNormalization()
            def call(self, x):
                return self.bn(x)
    """)
    events = [e for e in model.events if e.context.function is not None]
    assert events and all(e.context.standalone for e in events)


def test_augmented_assignment_folds_with_local_names() -> None:
    model = model_of("""
        import keras
        def make():
            rate = 1e-3
            rate /= 10
            return keras.optimizers.Adam(rate)
        opt = make()
    """)
    (create,) = (e for e in model.events_of("create") if e.optimizer is not None)
    assert create.learning_rate == pytest.approx(1e-4)


def test_comprehension_with_a_condition_is_evaluated() -> None:
    model = model_of("""
        from keras import layers
        bn = layers.BatchNormalization()
        outs = [bn(x, training=True) for x in xs if x is not None]
    """)
    (call,) = calls(model)
    assert call.training == "true" and call.context.loop_depth == 1


# ------------------------------------------------------ containers and children
def test_sequential_with_an_input_and_spliced_blocks_tracks_its_children() -> None:
    model = model_of("""
        import keras
        from keras import layers
        def block(n):
            return [layers.Conv2D(n, 3), layers.BatchNormalization(), layers.ReLU()]
        model = keras.Sequential([keras.Input((32, 32, 3)), *block(8), *block(16),
                                  layers.Dropout(0.2)])
    """)
    net = layer_named(model, "model")
    assert net.has_bn is False  # nothing unknown inside
    assert len(net.children) == 7
    assert net.contains_bn() is True and net.contains_dropout() is True


def test_functional_graph_through_ops_and_helpers_keeps_its_layers() -> None:
    model = model_of("""
        import tensorflow as tf
        from tensorflow.keras import layers
        inputs = tf.keras.Input((8,))
        a = layers.Dense(8)(inputs)
        b = layers.BatchNormalization()(inputs)
        x = layers.concatenate([a, b])
        x = tf.nn.relu(x) + a
        model = tf.keras.Model(inputs=inputs, outputs=x[:, :4])
    """)
    net = layer_named(model, "model")
    assert net.has_bn is False and net.contains_bn() is True


def test_functional_graph_with_an_unknown_part_may_hold_more() -> None:
    model = model_of("""
        import keras
        from keras import layers
        inputs = keras.Input((8,))
        x = layers.BatchNormalization()(inputs)
        x = layers.Add()([x, mystery(inputs)])
        model = keras.Model(inputs, x)
    """)
    net = layer_named(model, "model")
    assert net.has_bn is None and net.contains_bn() is True


def test_model_add_appends_children() -> None:
    model = model_of("""
        from tensorflow.keras import layers, models
        model = models.Sequential()
        model.add(layers.Dense(4))
        model.add(layers.BatchNormalization(trainable=False))
    """)
    net = layer_named(model, "model")
    assert net.contains_bn() is True and net.bn_trainable() is False


def test_container_trainable_recurses_into_children() -> None:
    model = model_of("""
        import keras
        from keras import layers
        bn = layers.BatchNormalization()
        model = keras.Sequential([layers.Dense(4), bn])
        model.trainable = False
    """)
    assert layer_named(model, "bn").trainable is False


def test_layers_held_in_attributes_are_called_and_wired() -> None:
    model = model_of("""
        import keras
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.bn = keras.layers.BatchNormalization()
                self.drop = keras.layers.Dropout(0.5)
            def call(self, x, training=False):
                return self.drop(self.bn(x, training=training))
        net = Net()
    """)
    net = layer_named(model, "net")
    bn = layer_named(model, "self.bn")
    (bn_call,) = (e for e in calls(model) if e.target is bn)
    assert bn_call.training == "dynamic" and bn_call.forwards_training
    wiring = next(w for w in net.children if w.child is bn)
    assert wiring.mode == "attribute" and wiring.forwards_training
    assert net.call_training_default == "false"
    assert net.runs_in_outer_mode("bn") is True
    assert net.runs_in_outer_mode("dropout") is True


def test_explicit_training_inside_a_graph_fixes_the_mode() -> None:
    model = model_of("""
        import keras
        from keras import layers
        inputs = keras.Input((8,))
        x = layers.BatchNormalization()(inputs, training=False)
        model = keras.Model(inputs, layers.Dense(1)(x))
    """)
    assert layer_named(model, "model").runs_in_outer_mode("bn") is False


def test_frozen_bn_does_not_follow_the_outer_mode() -> None:
    model = model_of("""
        import keras
        from keras import layers
        model = keras.Sequential([layers.Dense(4), layers.BatchNormalization(trainable=False)])
    """)
    assert layer_named(model, "model").runs_in_outer_mode("bn") is False


# ---------------------------------------------------------------- calls
@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("bn(x)", "absent"),
        ("bn(x, training=True)", "true"),
        ("bn(x, training=0)", "false"),
        ("bn(x, training=None)", "none"),
        ("bn(x, training=flag)", "dynamic"),
        ("bn(x, True)", "true"),
        ("bn(x, **kwargs)", "dynamic"),
        ("bn.call(x, training=False)", "false"),
    ],
)
def test_training_argument_as_written(call: str, expected: str) -> None:
    model = model_of(f"from keras import layers\nbn = layers.BatchNormalization()\ny = {call}\n")
    (event,) = calls(model)
    assert event.training == expected


def test_call_event_snapshots_the_frozen_state_at_the_call() -> None:
    model = model_of("""
        from keras import layers
        bn = layers.BatchNormalization()
        a = bn(x, training=True)
        bn.trainable = False
        b = bn(x, training=True)
    """)
    first, second = calls(model)
    assert first.trainable_before is True and second.trainable_before is False


def test_fit_event_snapshots_every_layer_inside() -> None:
    model = model_of("""
        import keras
        from keras import layers
        bn = layers.BatchNormalization(trainable=False)
        model = keras.Sequential([layers.Dense(4), bn])
        model.fit(x, y)
        bn.trainable = True
    """)
    (fit,) = model.events_of("fit")
    states = fit.extra["trainable"]
    assert isinstance(states, dict) and states[id(layer_named(model, "bn"))] is False


# ---------------------------------------------------------------- tapes
def test_tapes_enclose_calls_and_are_inherited_by_called_functions() -> None:
    model = model_of("""
        import tensorflow as tf
        from tensorflow.keras import layers as L
        model = tf.keras.Sequential([L.Dense(4), L.BatchNormalization()])
        def forward(x):
            return model(x)
        with tf.GradientTape() as g, tf.GradientTape() as d:
            y = forward(x)
        grads = g.gradient(y, model.trainable_variables + model.trainable_weights)
    """)
    (call,) = calls(model)
    assert len(call.context.tapes) == 2 and call.context.function == "forward"
    (gradient,) = model.events_of("gradient")
    assert gradient.target is call.context.tapes[0]
    assert gradient.sources_are_variables is True
    assert all(isinstance(source, Variables) for source in gradient.inputs[1:])


def test_gradient_with_respect_to_an_input_is_not_a_training_step() -> None:
    model = model_of("""
        import tensorflow as tf
        model = tf.keras.applications.ResNet50()
        with tf.GradientTape() as tape:
            tape.watch(image)
            score = model(image)
        saliency = tape.gradient(score, image)
    """)
    (gradient,) = model.events_of("gradient")
    assert gradient.sources_are_variables is False


def test_a_watched_list_of_inputs_makes_an_input_gradient() -> None:
    model = model_of("""
        import tensorflow as tf
        with tf.GradientTape() as tape:
            tape.watch(interpolated)
            pred = critic(interpolated)
        grads = tape.gradient(pred, [interpolated])
    """)
    (gradient,) = model.events_of("gradient")
    assert gradient.sources_are_variables is False


# ------------------------------------------------------- module-wide facts
def test_attribute_reads_exclude_assignment_targets() -> None:
    model = model_of("""
        layer.trainabe = True
        print(other.trainables)
        value = getattr(layer, "Trainable")
    """)
    assert not model.is_read("trainabe")
    assert model.is_read("trainables") and model.is_read("Trainable")


def test_discarded_calls_are_expression_statements_or_underscore() -> None:
    module = textwrap.dedent("""
        model(x, training=True)
        _ = model(x, training=True)
        y = model(x, training=True)
    """)
    model = model_of(module)
    discarded = [model.is_discarded(site.node) for site in model.calls]
    assert discarded == [True, True, False]


@pytest.mark.parametrize(
    ("line", "loads"),
    [
        ("model.load_weights('w.h5')", True),
        ("ckpt = tf.train.Checkpoint(model=model); ckpt.restore(path)", True),
        ("model.set_weights(other.get_weights())", True),
        ("base = build_base(weights='imagenet')", True),
        ("load_pretrained(model)", True),
        ("utils.load_darknet_weights(yolo, 'yolov3.weights')", True),
        ("copy_params(src, dst)", True),
        ("cb = keras.callbacks.ModelCheckpoint('best.keras')", False),
        ("model.save_weights('w.h5')", False),
        ("base = build_base(weights=None)", False),
        ("data = np.load('x.npy')", False),
    ],
)
def test_weight_sources(line: str, loads: bool) -> None:
    model = model_of(f"import tensorflow as tf\nimport keras\n{line}\n")
    assert model.may_load_weights is loads


def test_pretrained_application_is_a_pretrained_signal() -> None:
    model = model_of("import keras\nbase = keras.applications.ResNet50()\n")
    assert model.has_pretrained_weights and model.may_load_weights


def test_list_values_splice_starred_lists() -> None:
    model = model_of("""
        import keras
        from keras import layers
        head = [layers.Dense(2), layers.Dense(1)]
        model = keras.Sequential([layers.BatchNormalization(), *head])
    """)
    net = next(layer for layer in model.layers if layer.model_kind == "sequential")
    assert [w.child.qualname for w in net.children] == [
        "keras.layers.BatchNormalization", "keras.layers.Dense", "keras.layers.Dense"]


# ---------------------------------------------------------------- control paths
def test_events_know_their_loops_branches_and_call_sites() -> None:
    model = model_of("""
        import keras
        base = keras.applications.ResNet50(include_top=False)

        def unfreeze(m):
            m.trainable = True

        for epoch in range(10):
            if epoch == 5:
                unfreeze(base)
            else:
                base.trainable = False
    """)
    changes = list(model.events_of("set_trainable"))
    assert [event.value.value for event in changes] == [True, False]
    inside_helper, in_else = changes
    assert [kind for kind, _ in inside_helper.context.path] == ["loop", "if"]
    assert [kind for kind, _ in in_else.context.path] == ["loop", "else"]
    loop = inside_helper.context.loops()[0]
    assert isinstance(loop, cst.For) and in_else.context.loops() == [loop]
    assert [kind for kind, _ in in_else.context.within(loop) or ()] == ["else"]
    assert len(inside_helper.context.call_sites) == 1
    assert cst.Module([]).code_for_node(inside_helper.context.call_sites[0]) == "unfreeze(base)"
    assert in_else.context.call_sites == ()


# ---------------------------------------------------------------- layer slices
@pytest.mark.parametrize(
    ("selection", "bn_stays_trainable"),
    [
        ("base.layers[:100]", True),  # MobileNetV2: 154 layers, the last BN 4 from the end
        ("base.layers[:fine_tune_at]", True),  # a name bound to 100
        ("base.layers[:-20]", True),
        ("base.layers[:150]", None),  # too close to the end to be sure
        ("base.layers[:-3]", None),
        ("base.layers[10:100]", None),  # the head part stays as it was: unknown
        ("base.layers[:n]", None),  # unknown bound
        ("base.layers", False),
    ],
)
def test_refreezing_part_of_an_application(selection: str, bn_stays_trainable: bool | None) -> None:
    model = model_of(f"""
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False)
        base.trainable = True
        fine_tune_at = 100
        for layer in {selection}:
            layer.trainable = False
    """)
    assert layer_named(model, "base").bn_trainable() is bn_stays_trainable


def test_slices_record_constant_bounds() -> None:
    model = model_of("""
        import keras
        base = keras.applications.ResNet50(include_top=False)
        k = 2 * 50
        for layer in base.layers[:k]:
            layer.trainable = False
        for layer in base.layers[-20:]:
            layer.trainable = True
    """)
    first, second = (event.selection for event in model.events_of("set_trainable"))
    assert first is not None and first.bounds == (None, 100) and first.keeps_bn_tail()
    assert second is not None and second.bounds == (-20, None) and not second.keeps_bn_tail()


# ---------------------------------------------------------------- functional graphs
def test_preprocess_input_keeps_the_functional_graph() -> None:
    model = model_of("""
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False)
        inputs = tf.keras.Input((160, 160, 3))
        x = tf.keras.applications.mobilenet_v2.preprocess_input(inputs)
        x = base(x, training=False)
        model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(x))
    """)
    net = layer_named(model, "model")
    assert [w.child.label for w in net.children][:1] == ["base"]
    assert net.children[0].training == "false"


def test_keras1_output_keyword_builds_a_functional_model() -> None:
    model = model_of("""
        from keras.applications.inception_v3 import InceptionV3
        from keras.layers import Dense
        from keras.models import Model
        base = InceptionV3(weights="imagenet", include_top=False)
        predictions = Dense(2)(base.output)
        model = Model(input=base.input, output=predictions)
    """)
    net = layer_named(model, "model")
    assert any(w.child.label == "base" and w.mode == "flattened" for w in net.children)


@pytest.mark.parametrize(
    ("preset", "has_bn"),
    [("xception_41_imagenet", True), ("vit_base_patch16_224_imagenet", False),
     ("my_custom_preset", None)],
)
def test_generic_backbone_contents_come_from_the_preset_name(preset: str,
                                                             has_bn: bool | None) -> None:
    model = model_of(f"""
        import keras_hub
        base = keras_hub.models.Backbone.from_preset("{preset}")
    """)
    base = layer_named(model, "base")
    assert base.pretrained and base.has_bn is has_bn


def test_from_preset_trainable_false_is_a_freeze() -> None:
    model = model_of("""
        import keras_hub
        base = keras_hub.models.ResNetBackbone.from_preset("resnet_50_imagenet", trainable=False)
    """)
    base = layer_named(model, "base")
    (freeze,) = model.events_of("set_trainable")
    assert freeze.layer is base and freeze.value.value is False
    assert base.trainable is False and base.bn_trainable() is False


def test_keras_hub_preprocessing_keeps_the_functional_graph() -> None:
    model = model_of("""
        import keras
        import keras_hub
        preprocessor = keras_hub.layers.ImageConverter.from_preset("xception_41_imagenet")
        conv_base = keras_hub.models.Backbone.from_preset("xception_41_imagenet")
        inputs = keras.Input(shape=(180, 180, 3))
        x = preprocessor(inputs)
        x = conv_base(x)
        model = keras.Model(inputs, keras.layers.Dense(1)(x))
    """)
    net = layer_named(model, "model")
    assert [w.child.label for w in net.children][:2] == ["preprocessor", "conv_base"]
    assert net.contains_bn() is True


def test_fragments_without_imports_still_name_tf_and_keras() -> None:
    model = model_of("""
        base = tf.keras.applications.ResNet50(include_top=False)
        optimizer = keras.optimizers.SGD(learning_rate=1e-3)
        model = keras.Sequential([base])
        model.compile(optimizer=optimizer, loss="mse")
    """)
    assert layer_named(model, "base").qualname == "keras.applications.ResNet50"
    (compile_event,) = model.events_of("compile")
    assert compile_event.learning_rate == pytest.approx(1e-3)


def test_a_local_tf_binding_wins_over_the_convention() -> None:
    model = model_of("""
        tf = load_something()
        base = tf.keras.applications.ResNet50(include_top=False)
    """)
    assert not any(layer.label == "base" for layer in model.layers)


def test_star_imports_prefer_the_module_that_has_the_name() -> None:
    model = model_of("""
        from keras.layers import *
        from keras.models import *
        img = Input(shape=(8,))
        net = Model(img, Dense(1)(img))
    """)
    net = layer_named(model, "net")
    assert net.qualname == "keras.Model" and net.model_kind == "functional"


def test_unpacked_outputs_stay_in_the_graph() -> None:
    model = model_of("""
        import keras
        d = keras.Sequential([keras.layers.Dense(2)])
        z = keras.Input((4,))
        valid, label = d(z)
        combined = keras.Model(z, [valid, label])
    """)
    assert [w.child.label for w in layer_named(model, "combined").children] == ["d"]


def test_layers_called_on_unknown_inputs_belong_to_the_model_they_build() -> None:
    model = model_of("""
        import keras
        from nets import get_generator
        d = keras.Sequential([keras.layers.Dense(1)])
        g = get_generator()
        z = keras.Input((4,))
        combined = keras.Model(z, d(g(z)))
    """)
    combined = layer_named(model, "combined")
    assert [w.child.label for w in combined.children] == ["d"]
    assert combined.has_bn is None  # the generator's part is unknown


def test_an_indexed_layer_of_a_functional_model_is_the_layer() -> None:
    model = model_of("""
        import tensorflow as tf
        base = tf.keras.applications.EfficientNetV2B0(include_top=False)
        inputs = tf.keras.Input((224, 224, 3))
        x = base(inputs, training=False)
        model = tf.keras.Model(inputs, tf.keras.layers.Dense(3)(x))
        inner = model.layers[1]
        inner.trainable = True
        for layer in inner.layers[:-10]:
            layer.trainable = False
    """)
    unfreeze, refreeze = model.events_of("set_trainable")
    assert unfreeze.selection is not None and unfreeze.selection.members == (
        layer_named(model, "base"),)
    assert refreeze.selection is not None and refreeze.selection.container is layer_named(
        model, "base")
    assert layer_named(model, "base").bn_trainable() is True


# ---------------------------------------------------------------- the fast walk
def test_walk_sees_what_the_libcst_visitor_sees() -> None:
    from bnlint.semantic.walk import run_visitor, walk

    module = cst.parse_module(textwrap.dedent("""
        import keras as k
        @decorate(k.layers.Dense(1))
        def f(a, *args, b=k.layers.Dense(2), **kw) -> k.Model:
            x = [y async for y in z if y.name]
            return lambda q=k.layers.BatchNormalization(): q.trainable
        class C(Base, metaclass=M):
            attr: int = f(1)[2:3]
    """))

    class Names(cst.CSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []
            self.left: list[str] = []

        def visit_Name(self, node: cst.Name) -> None:
            self.seen.append(node.value)

        def visit_Call(self, node: cst.Call) -> None:
            self.seen.append("call")

        def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
            self.left.append(original_node.name.value)

    reference, fast = Names(), Names()
    module.visit(reference)
    run_visitor(fast, module)
    assert sorted(fast.seen) == sorted(reference.seen)
    assert fast.left == reference.left == ["f"]
    assert sum(isinstance(node, cst.Call) for node in walk(module)) == reference.seen.count("call")


def test_walk_prunes_below_a_node_and_visit_false_skips_children() -> None:
    from bnlint.semantic.walk import run_visitor, walk

    module = cst.parse_module("def f():\n    g(h())\nk()\n")
    calls = [node for node in walk(module, prune=lambda n: isinstance(n, cst.FunctionDef))
             if isinstance(node, cst.Call)]
    assert len(calls) == 1  # only k(): nothing below the function is visited

    class Outer:
        def __init__(self) -> None:
            self.calls = 0

        def visit_Call(self, node: cst.Call) -> bool:
            self.calls += 1
            return False  # do not look inside the call

    outer = Outer()
    run_visitor(outer, module)
    assert outer.calls == 2  # g(...) and k(); h() sits inside g(...)


def test_parameter_defaults_are_evaluated_once_where_the_function_is_defined() -> None:
    model = model_of("""
        from keras.optimizers import Adam
        import keras

        def build(net, optimizer=Adam(learning_rate=2e-4)):
            net.compile(optimizer=optimizer, loss="mse")

        net = keras.Sequential([keras.layers.Dense(1)])
        build(net)
        build(net)
    """)
    creates = [event for event in model.events_of("create")
               if event.node is not None and "Adam" in cst.Module([]).code_for_node(event.node)]
    assert len(creates) == 1  # one optimizer, as in Python
    first, second = model.events_of("compile")
    assert first.optimizer is second.optimizer and first.learning_rate == pytest.approx(2e-4)


def test_functional_layers_list_starts_with_its_input_layers() -> None:
    model = model_of("""
        import keras
        a, b = keras.Input((4,)), keras.Input((4,))
        dense = keras.layers.Dense(1)
        net = keras.Model([a, b], dense(keras.layers.Concatenate()([a, b])))
        first = net.layers[0]
        third = net.layers[2]
        head = net.layers[:3]
        first.trainable = False
        third.trainable = False
        for layer in head:
            layer.trainable = False
    """)
    first, third, head = (event.selection for event in model.events_of("set_trainable"))
    assert first is not None and first.members == ()  # an InputLayer: nothing tracked
    assert third is not None and [m.qualname for m in third.members or ()] == [
        "keras.layers.Concatenate"]
    assert head is not None and [m.qualname for m in head.members or ()] == [
        "keras.layers.Concatenate"]


def test_a_sequential_does_not_list_its_input_layer() -> None:
    model = model_of("""
        import keras
        base = keras.applications.ResNet50(include_top=False)
        net = keras.Sequential([keras.layers.InputLayer(shape=(224, 224, 3)), base])
        net.layers[0].trainable = False
    """)
    (freeze,) = model.events_of("set_trainable")
    assert freeze.selection is not None and freeze.selection.members == (
        layer_named(model, "base"),)


def test_a_known_condition_runs_one_branch_definitely() -> None:
    model = model_of("""
        import keras
        class Block(keras.layers.Layer):
            def __init__(self, use_bn):
                super().__init__()
                if use_bn:
                    self.norm = keras.layers.BatchNormalization()
                else:
                    self.norm = keras.layers.LayerNormalization()
        with_bn = Block(True)
        without_bn = Block(use_bn=False)
    """)
    assert layer_named(model, "with_bn").contains_bn() is True
    assert layer_named(model, "without_bn").contains_bn() is False


def test_an_attribute_set_on_one_path_is_unknown() -> None:
    model = model_of("""
        import keras
        class Block(keras.layers.Layer):
            def __init__(self, norm):
                super().__init__()
                if norm == "batch":
                    self.norm = keras.layers.BatchNormalization()
                else:
                    self.norm = keras.layers.LayerNormalization()
        class Holder:
            def __init__(self, flag):
                if flag:
                    self.model = keras.Sequential([keras.layers.Dense(1)])
        block = Block(pick())
        holder = Holder(pick())
        holder.model.trainable = False
    """)
    assert layer_named(model, "block").contains_bn() is None
    (change,) = model.events_of("set_trainable")
    assert change.layer is None  # `holder.model` may not exist


def test_layers_passed_to_unknown_callees_escape() -> None:
    model = model_of("""
        import keras
        from helpers import recompile
        net = keras.Sequential([keras.layers.Dense(1)])
        recompile(net, 1e-5)
    """)
    (escape,) = model.events_of("escape")
    assert escape.layer is layer_named(model, "net")
    assert layer_named(model, "net").trainable is None


def test_unlisted_names_from_foreign_star_imports_are_not_keras() -> None:
    model = model_of("""
        from keras.applications import *
        from my_project.nets import *
        encoder = Encoder(width=64)
        base = ResNet50(include_top=False)
    """)
    assert [layer.label for layer in model.layers] == ["base"]


def test_dropout_from_a_keras_star_import_beside_a_foreign_one_is_dropout() -> None:
    # `Dropout` is as certainly Keras's as `BatchNormalization`; an unlisted name such
    # as `Encoder` still stays unknown
    model = model_of("""
        from tensorflow.python.keras.layers import *
        from jade import *
        drop = Dropout(0.5)
        noise = SpatialDropout2D(0.1)
        encoder = Encoder(width=64)
    """)
    assert [(layer.label, layer.is_dropout) for layer in model.layers] == [
        ("drop", True), ("noise", True)]


def test_an_integer_literal_beyond_the_digit_limit_is_unknown() -> None:
    model_of("x = " + "9" * 5000 + "\n")  # no crash (CPython rejects it as well)


def test_a_value_of_unknown_origin_that_is_compiled_is_a_model() -> None:
    model = model_of("""
        from models import build_discriminator
        import re
        d = build_discriminator()
        d.compile(loss="mse", optimizer="adam")
        d.trainable = False
        d.train_on_batch(x, y)
        pattern = re.compile("x+")
    """)
    (d,) = [layer for layer in model.layers if layer.label == "d"]
    assert d.is_model and d.contains_bn() is None and not d.pretrained
    assert [event.kind for event in model.events if event.layer is d] == [
        "create", "compile", "set_trainable", "fit"]
    assert [layer.label for layer in model.layers] == ["d"]  # re.compile is not a model


def test_reused_layers_of_a_loaded_model_carry_its_weights() -> None:
    model = model_of("""
        from tensorflow import keras
        model_A = keras.models.load_model("my_model_A.h5")
        clone = keras.models.clone_model(model_A)
        clone.set_weights(model_A.get_weights())
        model_B = keras.models.Sequential(clone.layers[:-1])
        model_B.add(keras.layers.Dense(1))
        fresh = keras.models.clone_model(model_A)
    """)
    assert layer_named(model, "clone").pretrained
    assert layer_named(model, "model_B").pretrained
    assert layer_named(model, "model_B").contains_bn() is None  # the slice is not known
    assert not layer_named(model, "fresh").pretrained


@pytest.mark.parametrize(("call", "known"), [
    ("make(base)", True),  # the default of `trainable` applies
    ("make(base, **options)", False),  # options may hold `trainable`
    ("make(*args)", False),
])
def test_arguments_spread_from_unknown_values_do_not_take_defaults(call: str,
                                                                   known: bool) -> None:
    model = model_of(f"""
        import keras
        base = keras.applications.ResNet50(include_top=False)

        def make(layer, trainable=False):
            layer.trainable = trainable

        {call}
        """)
    assert (layer_named(model, "base").trainable is False) is known


# ------------------------------------------------------------ constants that decide
def _frozen_when(setup: str, condition: str) -> bool | None:
    """The BN layer's trainable flag after ``if <condition>: bn.trainable = False``
    (None: the condition was not decided)."""
    model = model_of(f"""
        from keras import layers
        bn = layers.BatchNormalization()
        {setup}
        if {condition}:
            bn.trainable = False
    """)
    flag = layer_named(model, "bn").trainable
    return None if flag is None else not flag


@pytest.mark.parametrize(("setup", "condition", "frozen"), [
    ('backbone = "mobilenet"', 'backbone == "mobilenet"', True),
    ('backbone = "mobilenet"', 'backbone != "mobilenet"', False),
    ('backbone = "vit"', 'backbone in ["vit", "swin"]', True),
    ('backbone = "resnet"', 'backbone not in ("vit", "swin")', True),
    ("gpus = [0]", "len(gpus) > 1", False),
    ("gpus = (0, 1)", "len(gpus) > 1", True),
    ("lr = 1e-3", "lr <= 1e-3 and not lr < 1e-4", True),
    ("path = ''", "path", False),
    ("path = 'w.h5'", "path is not None", True),
    ("size = 3", "1 < size < 3", False),
    ("name = 'a' 'b'", "name == 'ab'", True),
])
def test_a_comparison_of_constants_runs_one_arm(setup: str, condition: str,
                                                frozen: bool) -> None:
    assert _frozen_when(setup, condition) is frozen


@pytest.mark.parametrize(("setup", "condition"), [
    ("gpus = []\ngpus.append(0)", "len(gpus) > 1"),  # the list changed
    ("gpus = [0]\nconfigure(gpus)", "len(gpus) > 1"),  # handed to unknown code
    ('name = "a"', "name < 1"),  # Python raises TypeError
    ("", 'backbone == "mobilenet"'),  # not known
    ('backbone = "x"\nif other:\n    backbone = "y"', 'backbone == "x"'),
])
def test_a_comparison_that_is_not_certain_decides_nothing(setup: str, condition: str) -> None:
    setup = setup.replace("\n", "\n        ")
    assert _frozen_when(setup, condition) is None


def test_a_constant_the_loop_changes_is_unknown_inside_the_loop() -> None:
    model = model_of("""
        from keras import layers
        bn = layers.BatchNormalization()
        epoch = 0
        while epoch < 10:
            if epoch == 5:
                bn.trainable = False
            epoch += 1
    """)
    (event,) = model.events_of("set_trainable")
    assert layer_named(model, "bn").trainable is None
    assert not event.context.definite


def test_a_nested_function_reads_the_names_of_the_function_around_it() -> None:
    model = model_of("""
        import tensorflow as tf

        def main():
            inputs = tf.keras.Input((8,))
            model = tf.keras.Model(inputs, tf.keras.layers.BatchNormalization()(inputs))

            def train_step(x):
                with tf.GradientTape() as tape:
                    loss = model(x, training=True)
                return tape.gradient(loss, model.trainable_variables)

            for x in data:
                train_step(x)

        main()
    """)
    (call,) = [event for event in calls(model) if event.layer is layer_named(model, "model")]
    assert call.training == "true"
    assert call.context.function == "train_step"


def test_appended_outputs_reach_the_model_built_from_them() -> None:
    model = model_of("""
        import tensorflow as tf
        inputs = tf.keras.Input((8,))
        outputs = []
        for units in (4, 2):
            outputs.append(tf.keras.layers.BatchNormalization()(inputs))
        model = tf.keras.Model(inputs, outputs)
    """)
    assert layer_named(model, "model").contains_bn() is True


def test_a_default_decides_no_comparison_in_a_function_nobody_calls() -> None:
    # read on its own, the function may be called with any value: `mode == "fine"`
    # stays open (both arms are read); called with the default, it is decided
    never_called = """
        from keras import layers
        bn = layers.BatchNormalization()
        def configure(mode="head"):
            if mode == "fine":
                bn.trainable = False
    """
    (freeze,) = model_of(never_called).events_of("set_trainable")
    assert not freeze.context.definite
    called = never_called + "\n        configure()\n"
    assert not list(model_of(called).events_of("set_trainable"))


@pytest.mark.parametrize(("body", "is_bn", "contains_bn"), [
    ("pass", True, True),
    # the YOLOv4 idiom: frozen means inference mode, then the parent's computation
    (("def call(self, x, training=False):\n"
      "                training = tf.logical_and(training, self.trainable)\n"
      "                return super().call(x, training)"), True, True),
    (("def call(self, x, training=False):\n"
      "                return x * self.gamma"), False, None),  # computes something else
])
def test_a_subclass_of_batch_normalization_is_one(body: str, is_bn: bool,
                                                  contains_bn: bool | None) -> None:
    model = model_of(f"""
        import tensorflow as tf
        class FrozenBN(tf.keras.layers.BatchNormalization):
            {body}
        norm = FrozenBN()
    """)
    norm = layer_named(model, "norm")
    assert (norm.is_bn, norm.contains_bn()) == (is_bn, contains_bn)


COMPOSE = """
    from functools import reduce
    from tensorflow.keras import layers
    def compose(*funcs):
        if funcs:
            return reduce(lambda f, g: lambda *a, **kw: g(f(*a, **kw)), funcs)
        raise ValueError("Composition of empty sequence not supported.")
    def conv_bn_leaky(*args, **kwargs):
        no_bias = {"use_bias": False}
        no_bias.update(kwargs)
        return compose(layers.Conv2D(*args, **no_bias), layers.BatchNormalization(),
                       layers.LeakyReLU(0.1))
"""


@pytest.mark.parametrize(("body", "contains_bn"), [
    # layers chained by a composition helper are called on the tensor, in order
    ("x = compose(conv_bn_leaky(32, 3), conv_bn_leaky(64, 3))(inputs)", True),
    ("x = compose(layers.Conv2D(8, 3), layers.ReLU())(inputs)", False),
    # a lambda applies the layer it closes over
    ("x = (lambda t: layers.BatchNormalization()(t))(inputs)", True),
    ("apply = lambda layer, t: layer(t)\n    x = apply(layers.Dense(4), inputs)", False),
])
def test_layers_chained_through_lambdas_reach_the_model(body: str, contains_bn: bool) -> None:
    model = model_of(COMPOSE + f"""
    from tensorflow.keras import Model
    inputs = layers.Input((32, 32, 3))
    {body}
    model = Model(inputs, x)
    """)
    assert layer_named(model, "model").contains_bn() is contains_bn


def test_reduce_over_a_list_that_changed_is_unknown() -> None:
    model = model_of("""
        from functools import reduce
        from tensorflow.keras import Input, Model, layers
        blocks = [layers.Dense(4), layers.BatchNormalization()]
        blocks.extend(more_blocks)
        x = reduce(lambda t, layer: layer(t), blocks, Input((8,)))
        model = Model(Input((8,)), x)
    """)
    assert layer_named(model, "model").contains_bn() is None


def test_star_arguments_reach_the_callee_when_the_call_spreads_nothing() -> None:
    model = model_of("""
        from tensorflow.keras import Input, Model, layers
        def block(x, *sizes, **options):
            if options.get("norm"):
                x = layers.BatchNormalization()(x)
            return layers.Dense(sizes[0] if sizes else 4)(x)
        inputs = Input((8,))
        plain = Model(inputs, block(inputs, 16, norm=False))
        normed = Model(inputs, block(inputs, *[16], **{"norm": True}))
    """)
    assert layer_named(model, "plain").contains_bn() is False
    assert layer_named(model, "normed").contains_bn() is True


def test_a_model_built_eight_helper_calls_deep_is_followed() -> None:
    # main -> build -> body -> stage -> block -> conv_bn: real builders nest like this
    model = model_of("""
        from tensorflow.keras import Input, Model, layers
        def conv_bn(x):
            return layers.BatchNormalization()(layers.Conv2D(8, 3)(x))
        def block(x):
            return conv_bn(x)
        def stage(x):
            return block(x)
        def body(x):
            return stage(x)
        def build():
            inputs = Input((32, 32, 3))
            return Model(inputs, body(inputs))
        def main():
            model = build()
            return model
        net = build()
        main()
    """)
    assert layer_named(model, "net").contains_bn() is True


@pytest.mark.parametrize(("built_on", "selects_base"), [
    ("base.input, head(base.output)", True),
    # a model that does not open with the base's layers: which layers are meant is unknown
    ("inputs, head(base(inputs))", False),
])
def test_an_index_loop_over_the_bases_layers_selects_them_in_the_model(
        built_on: str, selects_base: bool) -> None:
    model = model_of(f"""
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False, weights="imagenet")
        head = tf.keras.layers.Dense(3)
        inputs = tf.keras.Input((224, 224, 3))
        model = tf.keras.Model({built_on})
        for i in range(len(base.layers)):
            model.layers[i].trainable = False
    """)
    (freeze,) = model.events_of("set_trainable")
    assert freeze.selection is not None
    assert (freeze.selection.container is layer_named(model, "base")) is selects_base
    assert (freeze.selection.extent == "all") is selects_base


@pytest.mark.parametrize(("loop", "bn_trainable"), [
    ("for layer in model.layers:\n            layer.trainable = False", False),
    ("for i in range(len(model.layers)):\n            model.layers[i].trainable = False",
     False),
    # which layers an unknown count freezes is unknown
    ("for i in range(count):\n            model.layers[i].trainable = False", None),
])
def test_freezing_a_models_layers_reaches_those_of_a_body_built_from_layers(
        loop: str, bn_trainable: bool | None) -> None:
    # `model_body` is built from layers (each tracked); `model` on its tensors lists
    # them as its own
    model = model_of(f"""
        from tensorflow.keras import Input, Model, layers
        inputs = Input((32, 32, 3))
        x = layers.BatchNormalization()(layers.Conv2D(8, 3)(inputs))
        model_body = Model(inputs, layers.Conv2D(4, 1)(x))
        model = Model(model_body.input, layers.Flatten()(model_body.output))
        {loop}
    """)
    norm = next(layer for layer in model.layers if layer.is_bn)
    assert norm.trainable is bn_trainable
    assert layer_named(model, "model").bn_trainable() is bn_trainable


def test_a_tuple_indexed_by_a_constant_expression_gives_its_item() -> None:
    # `num = (185, len(model_body.layers) - 3)[freeze_body - 1]` in keras-yolo3
    model = model_of("""
        from tensorflow import keras
        model = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization()])
        model.compile("adam", "mse")
        mode = 2
        model.fit(x, y, batch_size=(32, 4)[mode - 1])
    """)
    (fit,) = model.events_of("fit")
    assert fit.batch_size == 4


def test_a_partial_of_a_layer_class_builds_that_layer() -> None:
    # yad2k: `_DarknetConv2D = partial(Conv2D, padding="same")`
    model = model_of("""
        from functools import partial
        from tensorflow.keras import Input, Model, layers
        Norm = partial(layers.BatchNormalization, momentum=0.9)
        Conv = partial(layers.Conv2D, padding="same")
        inputs = Input((32, 32, 3))
        model = Model(inputs, Norm()(Conv(8, 3)(inputs)))
    """)
    assert layer_named(model, "model").contains_bn() is True
    assert [layer.qualname for layer in model.layers if not layer.is_model] == [
        "keras.layers.BatchNormalization", "keras.layers.Conv2D"]


@pytest.mark.parametrize(("base", "sizes"), [
    ("keras.utils.Sequence", [16, 4]),
    ("keras.utils.PyDataset", [16, 4]),
    ("object", [None, None]),  # not a Keras data sequence: its batches are unknown
])
def test_the_batches_of_a_data_sequence_are_its_batch_size(base: str,
                                                           sizes: list[int | None]) -> None:
    model = model_of(f"""
        from tensorflow import keras
        class Loader({base}):
            def __init__(self, lines, batch_size):
                self.lines = lines
                self.batch_size = batch_size
        model = keras.Sequential([keras.layers.BatchNormalization()])
        model.compile("adam", "mse")
        loader = Loader(lines, batch_size=16)
        model.fit(loader)
        loader.batch_size = 4
        model.fit(loader)
    """)
    fits = list(model.events_of("fit"))
    assert [fit.batch_size for fit in fits] == sizes
