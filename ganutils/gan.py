"""The `GAN` model: a `keras.Model` with its own alternating `train_step`.

Design notes:

- Each update takes gradients of its own model's `trainable_variables` and
  applies them with its own optimizer, so the generator step never changes
  the discriminator's weights and the other way round. The `trainable` flag
  is never toggled (in Keras 3 it is read when a step is traced).
- Batch normalization: both models run with `training=True` in both phases,
  so the discriminator scores a generated batch the same way in its own step
  and in the generator's step. Real and generated images go through the
  discriminator as two separate batches, so they never share batch
  statistics. `generate()` runs the generator with `training=False`, so
  drawing samples for a plot changes no statistics.
- Latent vectors come from a `keras.random.SeedGenerator` owned by the
  model: a new batch every step, the same sequence for the same seed, and the
  generator's state is saved with the model.
- Under a `tf.distribute` strategy, each replica's loss is divided by the
  number of replicas before the gradients are summed across replicas.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganutils import losses as gan_losses

METRIC_NAMES = ("d_loss", "g_loss", "d_real", "d_fake")
SEED_STATE_KEY = "seed_generator_state"


# Largest latent scale accepted. Scales far above 1 leave the distribution the
# generator was trained on, and from roughly 1e37 (an estimate from float32's
# maximum of 3.4e38) the scaled vectors overflow float32.
MAX_TRUNCATION = 1e6


def check_truncation(truncation):
    """Return `truncation` as a float after checking it is in (0, MAX_TRUNCATION].

    Args:
        truncation: Scale applied to standard normal latent vectors.

    Returns:
        The scale as a Python float.

    Raises:
        TypeError: If it is not a real number.
        ValueError: If it is not in (0, MAX_TRUNCATION], NaN included.
    """
    if isinstance(truncation, bool) or not isinstance(
        truncation, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            "truncation must be a number > 0, such as 0.7. "
            f"Received: truncation={truncation!r}"
        )
    # Written so that NaN fails the comparison.
    if not 0 < truncation <= MAX_TRUNCATION:
        raise ValueError(
            f"truncation must be in (0, {MAX_TRUNCATION:.0f}]; 1 samples the prior "
            f"as trained. Received: truncation={truncation!r}"
        )
    return float(truncation)


def draw_latent_vectors(n, latent_dim, seed=None, truncation=1.0):
    """Draw standard normal latent vectors scaled by `truncation`.

    Args:
        n: Number of vectors.
        latent_dim: Size of each vector.
        seed: Seed of NumPy's generator; `None` draws new vectors.
        truncation: Scale in (0, MAX_TRUNCATION] (the truncation trick).
            Below 1 the vectors move towards z = 0.

    Returns:
        float32 array `(n, latent_dim)`.
    """
    truncation = check_truncation(truncation)
    rng = np.random.default_rng(seed)
    latent_vectors = truncation * rng.standard_normal((n, latent_dim))
    return latent_vectors.astype("float32")


def _shape_tuple(shape):
    return tuple(None if d is None else int(d) for d in shape)


def _replica_position():
    """Return `(replica_id, num_replicas)` of the running `tf.distribute` replica."""
    context = tf.distribute.get_replica_context()
    if context is None:
        # Cross-replica context, for example in `strategy.scope()` outside `run`.
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def _scale_for_replicas(value):
    num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if num_replicas > 1:
        value = value / num_replicas
    return value


@keras.saving.register_keras_serializable(package="ganutils")
class GAN(keras.Model):
    """A generator and a discriminator trained against each other with `fit`.

    `fit` takes batches of real images (float32, NHWC, values in [-1, 1]);
    a batch may also be a tuple `(images, labels)` for a conditional GAN. One
    training step runs `d_steps` discriminator updates on a real batch and a
    freshly generated batch, then one generator update through the
    discriminator.

    Metrics in the progress bar and in `History.history`, averaged over the
    epoch and reset at the start of each one:

    - `d_loss`, `g_loss`: the two losses.
    - `d_real`: mean D(x) on real images, as a probability.
    - `d_fake`: mean D(G(z)) on generated images, as a probability.

    Args:
        generator: A `keras.Model` from `(batch, latent_dim)` (and labels of
            shape `(batch,)` when `num_classes` is set) to images in [-1, 1].
        discriminator: A `keras.Model` from images (and labels) to logits of
            shape `(batch, 1)`.
        latent_dim: Size of the latent vector z; must match the generator's
            input.
        d_steps: Discriminator (critic) updates per generator update, >= 1.
            Each one draws new latent vectors and reuses the real batch.
        gradient_penalty_weight: Weight of the WGAN-GP gradient penalty on
            the discriminator, 0 to switch it off.
        ema_decay: If set (for example 0.999), keep an exponential moving
            average of the generator's weights in `ema_generator`, which
            `generate()` then uses. `None` switches it off.
        num_classes: Number of classes of a conditional GAN, or `None`.
        seed: Integer seed of the latent vectors drawn during training.
    """

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        *,
        d_steps=1,
        gradient_penalty_weight=0.0,
        ema_decay=None,
        num_classes=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._check_arguments(
            generator,
            discriminator,
            latent_dim,
            d_steps,
            gradient_penalty_weight,
            ema_decay,
            num_classes,
        )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.d_steps = d_steps
        self.gradient_penalty_weight = float(gradient_penalty_weight)
        self.ema_decay = ema_decay
        self.num_classes = num_classes
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.ema_generator = None
        if ema_decay is not None:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self.ema_generator.trainable = False
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.built = True

    @staticmethod
    def _check_arguments(
        generator,
        discriminator,
        latent_dim,
        d_steps,
        gradient_penalty_weight,
        ema_decay,
        num_classes,
    ):
        for name, model in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(model, keras.Model):
                raise TypeError(
                    f"{name} must be a keras.Model. Received: {name} of type "
                    f"{type(model).__name__}"
                )
        if (
            isinstance(latent_dim, bool)
            or not isinstance(latent_dim, int)
            or latent_dim < 1
        ):
            raise ValueError(
                "latent_dim must be a positive int. "
                f"Received: latent_dim={latent_dim!r}"
            )
        if isinstance(d_steps, bool) or not isinstance(d_steps, int) or d_steps < 1:
            raise ValueError(
                f"d_steps must be an int >= 1. Received: d_steps={d_steps!r}"
            )
        if gradient_penalty_weight < 0:
            raise ValueError(
                "gradient_penalty_weight must be >= 0. Received: "
                f"gradient_penalty_weight={gradient_penalty_weight}"
            )
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(
                f"ema_decay must be in (0, 1) or None. Received: ema_decay={ema_decay}"
            )
        if num_classes is not None and (
            not isinstance(num_classes, int) or num_classes < 2
        ):
            raise ValueError(
                "num_classes must be an int >= 2 or None. "
                f"Received: num_classes={num_classes!r}"
            )

        generator_input = _shape_tuple(generator.inputs[0].shape)
        if generator_input[-1] != latent_dim:
            raise ValueError(
                f"The generator expects latent vectors of shape {generator_input}, "
                f"which does not match latent_dim={latent_dim}. Build the generator "
                "with the same latent_dim."
            )
        generated_shape = _shape_tuple(generator.outputs[0].shape)[1:]
        accepted_shape = _shape_tuple(discriminator.inputs[0].shape)[1:]
        if generated_shape != accepted_shape:
            raise ValueError(
                "The generator's output shape must equal the discriminator's input "
                f"shape. Received: generator output (batch, {generated_shape}) and "
                f"discriminator input (batch, {accepted_shape}). Build both models "
                "for the same image_shape."
            )

    def compile(self, d_optimizer, g_optimizer, loss="non_saturating", **kwargs):
        """Set the two optimizers and the GAN loss.

        Args:
            d_optimizer: Optimizer of the discriminator (an instance, a name
                or a config dict).
            g_optimizer: Optimizer of the generator; must be a different
                object from `d_optimizer`.
            loss: Name of the GAN loss, see `ganutils.losses.get_loss`.
            **kwargs: Passed on to `keras.Model.compile`, for example
                `steps_per_execution`.

        Raises:
            ValueError: If one optimizer object is passed for both models, or
                the loss name is unknown.
        """
        if d_optimizer is g_optimizer and isinstance(
            d_optimizer, keras.optimizers.Optimizer
        ):
            raise ValueError(
                "d_optimizer and g_optimizer are the same object. One optimizer "
                "keeps one set of moment estimates and one step counter, so "
                "sharing it mixes the two models' updates. Pass two instances, "
                "for example keras.optimizers.Adam(2e-4, beta_1=0.5) twice."
            )
        self.d_loss_fn, self.g_loss_fn = gan_losses.get_loss(loss)
        self.loss_name = loss
        self.d_optimizer = keras.optimizers.get(d_optimizer)
        self.g_optimizer = keras.optimizers.get(g_optimizer)
        # Keras builds only `self.optimizer` before the first step. Building
        # these two here, in the strategy scope that compile runs in, keeps
        # them from creating variables inside a replica's step, which fails
        # under tf.distribute.MirroredStrategy with two or more replicas.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        super().compile(**kwargs)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "loss": self.loss_name,
        }

    def compile_from_config(self, config):
        if not config:
            return
        self.compile(
            d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
            g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]),
            loss=config["loss"],
        )
        # Create the optimizer variables now so that the saved moment
        # estimates and step counters have somewhere to load into.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.d_real_tracker,
            self.d_fake_tracker,
        ]

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def _draw_per_replica(self, distribution, shape):
        """Draw `distribution(shape)` from the model's seed, per replica.

        Every replica of a `tf.distribute` strategy reads the same seed
        state, so each one draws the values of all replicas and keeps its own
        slice. Without that, all replicas would train on the same values.
        """
        replica_id, num_replicas = _replica_position()
        if num_replicas == 1:
            return distribution(shape, seed=self.seed_generator)
        values = distribution((num_replicas, *shape), seed=self.seed_generator)
        return ops.take(values, replica_id, axis=0)

    def sample_latent(self, batch_size):
        """Draw `(batch_size, latent_dim)` standard normal latent vectors.

        Under a strategy with several replicas, the replicas' vectors differ
        and together equal what one device would draw for the global batch.
        """
        return self._draw_per_replica(
            keras.random.normal, (batch_size, self.latent_dim)
        )

    def _generator_inputs(self, latent_vectors, labels):
        if self.num_classes is None:
            return latent_vectors
        return [latent_vectors, labels]

    def _discriminator_inputs(self, images, labels):
        if self.num_classes is None:
            return images
        return [images, labels]

    def gradient_penalty(self, real_images, generated_images, labels=None):
        """Compute the WGAN-GP penalty `E[(||grad D(x_hat)||_2 - 1)^2]`.

        `x_hat` lies on the straight line between a real and a generated
        image, at a position drawn uniformly from [0, 1] per image.

        Args:
            real_images: Real images, `(batch, height, width, channels)`.
            generated_images: Generated images of the same shape.
            labels: Class labels for a conditional GAN, else `None`.

        Returns:
            Scalar float32 tensor, at least 0.
        """
        batch_size = ops.shape(real_images)[0]
        alpha = self._draw_per_replica(keras.random.uniform, (batch_size, 1, 1, 1))
        interpolated = real_images + alpha * (generated_images - real_images)
        with tf.GradientTape() as tape:
            tape.watch(interpolated)
            logits = self.discriminator(
                self._discriminator_inputs(interpolated, labels), training=True
            )
        gradients = tape.gradient(logits, interpolated)
        norms = ops.sqrt(ops.sum(ops.square(gradients), axis=[1, 2, 3]) + 1e-12)
        return ops.mean(ops.square(norms - 1.0))

    def train_step(self, data):
        real_images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        if self.num_classes is not None and labels is None:
            raise ValueError(
                "A conditional GAN (num_classes set) needs batches of "
                "(images, labels). Received images without labels."
            )
        batch_size = ops.shape(real_images)[0]

        # Discriminator: d_steps updates on a real and a generated batch.
        for _ in range(self.d_steps):
            latent_vectors = self.sample_latent(batch_size)
            with tf.GradientTape() as tape:
                generated_images = self.generator(
                    self._generator_inputs(latent_vectors, labels), training=True
                )
                real_logits = self.discriminator(
                    self._discriminator_inputs(real_images, labels), training=True
                )
                fake_logits = self.discriminator(
                    self._discriminator_inputs(generated_images, labels), training=True
                )
                d_loss = self.d_loss_fn(real_logits, fake_logits)
                if self.gradient_penalty_weight > 0:
                    penalty = self.gradient_penalty(
                        real_images, generated_images, labels
                    )
                    d_loss = d_loss + self.gradient_penalty_weight * penalty
                scaled_d_loss = _scale_for_replicas(d_loss)
            d_weights = self.discriminator.trainable_variables
            d_gradients = tape.gradient(scaled_d_loss, d_weights)
            self.d_optimizer.apply(d_gradients, d_weights)

        # Generator: one update through the discriminator.
        latent_vectors = self.sample_latent(batch_size)
        with tf.GradientTape() as tape:
            generated_images = self.generator(
                self._generator_inputs(latent_vectors, labels), training=True
            )
            g_logits = self.discriminator(
                self._discriminator_inputs(generated_images, labels), training=True
            )
            g_loss = self.g_loss_fn(g_logits)
            scaled_g_loss = _scale_for_replicas(g_loss)
        g_weights = self.generator.trainable_variables
        g_gradients = tape.gradient(scaled_g_loss, g_weights)
        self.g_optimizer.apply(g_gradients, g_weights)

        if self.ema_generator is not None:
            self._update_ema()

        # Metrics, from the last discriminator update's forward pass.
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(ops.mean(ops.sigmoid(real_logits)))
        self.d_fake_tracker.update_state(ops.mean(ops.sigmoid(fake_logits)))
        return {metric.name: metric.result() for metric in self.metrics}

    def fit(self, x=None, *args, **kwargs):
        # A tf.data.Dataset from make_dataset is shuffled already, and Keras
        # warns that its own `shuffle=True` default is ignored for datasets.
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
        return super().fit(x, *args, **kwargs)

    def _update_ema(self):
        decay = self.ema_decay
        for ema_weight, weight in zip(
            self.ema_generator.weights, self.generator.weights, strict=True
        ):
            ema_weight.assign(decay * ema_weight + (1.0 - decay) * weight)

    def generate(
        self, n, labels=None, seed=None, batch_size=256, use_ema=True, truncation=1.0
    ):
        """Draw `n` images from the generator.

        Args:
            n: Number of images, >= 1.
            labels: Integer class labels of shape `(n,)` for a conditional
                GAN; `None` otherwise.
            seed: Integer seed of the latent vectors; the same seed gives the
                same images from the same weights. `None` draws new ones.
            batch_size: Images generated per forward pass.
            use_ema: Use the moving-average generator when there is one.
            truncation: Scale of the latent vectors, in (0, MAX_TRUNCATION]
                (the truncation trick, psi). Below 1 the vectors move towards
                z = 0, which gives more typical images and less variety. 1
                samples the prior as trained.

        Returns:
            A float32 NumPy array `(n, height, width, channels)` in [-1, 1].
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive int. Received: n={n!r}")
        if self.num_classes is not None:
            if labels is None:
                raise ValueError("A conditional GAN needs labels of shape (n,).")
            labels = np.asarray(labels, dtype="int32").reshape(n)
        generator = (
            self.ema_generator if (use_ema and self.ema_generator) else self.generator
        )
        latent_vectors = draw_latent_vectors(n, self.latent_dim, seed, truncation)
        batches = []
        for start in range(0, n, batch_size):
            batch_labels = (
                None if labels is None else labels[start : start + batch_size]
            )
            inputs = self._generator_inputs(
                latent_vectors[start : start + batch_size], batch_labels
            )
            batches.append(ops.convert_to_numpy(generator(inputs, training=False)))
        return np.concatenate(batches).astype("float32")

    def save_own_variables(self, store):
        super().save_own_variables(store)
        # Keras 3 (checked with 3.15) leaves SeedGenerator states out of saved
        # files, so a reloaded model would repeat the latent vectors of the
        # first steps. The state is stored under its own key instead.
        store[SEED_STATE_KEY] = self.seed_generator.state.numpy()

    def load_own_variables(self, store):
        if SEED_STATE_KEY in store:
            self.seed_generator.state.assign(store[SEED_STATE_KEY])
        own_variables = {
            key: store[key] for key in store.keys() if key != SEED_STATE_KEY
        }
        super().load_own_variables(own_variables)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(
                    self.discriminator
                ),
                "latent_dim": self.latent_dim,
                "d_steps": self.d_steps,
                "gradient_penalty_weight": self.gradient_penalty_weight,
                "ema_decay": self.ema_decay,
                "num_classes": self.num_classes,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(
            config["discriminator"]
        )
        return cls(**config)
