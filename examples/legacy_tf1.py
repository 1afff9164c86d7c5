"""MNIST classifier written in the TensorFlow 1 graph style.

Kept from an older project: placeholders, tf.compat.v1 layers and a Session loop,
run through the tf.compat.v1 API so it still starts on TensorFlow 2.
"""

import numpy as np
import tensorflow as tf

tf.compat.v1.disable_eager_execution()
tf.keras.backend.set_learning_phase(1)

BATCH_SIZE = 100
STEPS = 2000
LEARNING_RATE = 1e-3

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 28, 28, 1).astype(np.float32) / 255.0
x_test = x_test.reshape(-1, 28, 28, 1).astype(np.float32) / 255.0

images = tf.compat.v1.placeholder(tf.float32, [None, 28, 28, 1], name="images")
labels = tf.compat.v1.placeholder(tf.int64, [None], name="labels")
is_training = tf.compat.v1.placeholder_with_default(False, shape=(), name="is_training")


def network(x):
    x = tf.compat.v1.layers.conv2d(x, 32, 5, padding="same", use_bias=False)
    x = tf.compat.v1.layers.batch_normalization(x, training=is_training)
    x = tf.nn.relu(x)
    x = tf.compat.v1.layers.max_pooling2d(x, 2, 2)
    x = tf.compat.v1.layers.conv2d(x, 64, 5, padding="same", use_bias=False)
    x = tf.compat.v1.layers.batch_normalization(x)
    x = tf.nn.relu(x)
    x = tf.compat.v1.layers.max_pooling2d(x, 2, 2)
    x = tf.compat.v1.layers.flatten(x)
    x = tf.compat.v1.layers.dense(x, 1024, activation=tf.nn.relu)
    x = tf.compat.v1.layers.dropout(x, rate=0.4, training=is_training)
    return tf.compat.v1.layers.dense(x, 10)


logits = network(images)
loss = tf.reduce_mean(
    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
)
accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))

global_step = tf.compat.v1.train.get_or_create_global_step()
optimizer = tf.compat.v1.train.AdamOptimizer(LEARNING_RATE)
train_op = optimizer.minimize(loss, global_step=global_step)

saver = tf.compat.v1.train.Saver()
rng = np.random.default_rng(0)

with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    for step in range(STEPS):
        idx = rng.integers(0, len(x_train), BATCH_SIZE)
        feed = {images: x_train[idx], labels: y_train[idx], is_training: True}
        _, batch_loss = sess.run([train_op, loss], feed_dict=feed)
        if step % 200 == 0:
            print(f"step {step}: loss {batch_loss:.4f}")

    test_acc = sess.run(accuracy, feed_dict={images: x_test, labels: y_test})
    print(f"test accuracy {test_acc:.4f}")
    saver.save(sess, "checkpoints/mnist_tf1")
