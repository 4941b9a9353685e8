package org.metisfl.examples.fashionmnist;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * The Fashion-MNIST data set (60,000 training and 10,000 test images of 28x28 grey pixels, 10
 * clothing classes) read from the four IDX {@code .gz} files that Debian's {@code
 * dataset-fashion-mnist} package installs.
 *
 * <pre>{@code
 * FashionMnist data = FashionMnist.load(FashionMnist.DEFAULT_DIR, 0, 0); // 0 = no limit
 * float firstPixel = data.train().pixel(0, 0); // in [0, 1]
 * int firstLabel = data.train().label(0);      // 9, "Ankle boot"
 * }</pre>
 */
public final class FashionMnist {

    /** Where {@code apt-get install dataset-fashion-mnist} puts the files. */
    public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");

    public static final String TRAIN_IMAGES = "train-images-idx3-ubyte.gz";
    public static final String TRAIN_LABELS = "train-labels-idx1-ubyte.gz";
    public static final String TEST_IMAGES = "t10k-images-idx3-ubyte.gz";
    public static final String TEST_LABELS = "t10k-labels-idx1-ubyte.gz";

    public static final int ROWS = 28;
    public static final int COLUMNS = 28;
    public static final int IMAGE_SIZE = ROWS * COLUMNS;
    public static final int NUM_CLASSES = 10;

    public static final List<String> CLASS_NAMES =
            List.of(
                    "T-shirt/top",
                    "Trouser",
                    "Pullover",
                    "Dress",
                    "Coat",
                    "Sandal",
                    "Shirt",
                    "Sneaker",
                    "Bag",
                    "Ankle boot");

    private static final int IMAGES_MAGIC = 0x00000803;
    private static final int LABELS_MAGIC = 0x00000801;
    private static final String FIX =
            "install the data with 'apt-get install dataset-fashion-mnist' (it provides "
                    + DEFAULT_DIR
                    + ") or pass the directory holding the four IDX .gz files";

    private final Split train;
    private final Split test;

    private FashionMnist(Split train, Split test) {
        this.train = train;
        this.test = test;
    }

    /** Loads the whole data set from {@link #DEFAULT_DIR}. */
    public static FashionMnist load() {
        return load(DEFAULT_DIR, 0, 0);
    }

    /**
     * Loads the first {@code trainLimit} training and {@code testLimit} test examples (0 means all)
     * from {@code dir}.
     *
     * @throws DataUnavailableException if a file is missing, unreadable or not a valid IDX file
     */
    public static FashionMnist load(Path dir, int trainLimit, int testLimit) {
        if (trainLimit < 0 || testLimit < 0) {
            throw new IllegalArgumentException(
                    "limits must be >= 0 (0 = all), got train "
                            + trainLimit
                            + ", test "
                            + testLimit);
        }
        Split train = readSplit(dir, TRAIN_IMAGES, TRAIN_LABELS, trainLimit);
        Split test = readSplit(dir, TEST_IMAGES, TEST_LABELS, testLimit);
        return new FashionMnist(train, test);
    }

    public Split train() {
        return train;
    }

    public Split test() {
        return test;
    }

    private static Split readSplit(Path dir, String imagesFile, String labelsFile, int limit) {
        byte[] labels = readIdx(dir.resolve(labelsFile), LABELS_MAGIC, limit);
        byte[] pixels = readIdx(dir.resolve(imagesFile), IMAGES_MAGIC, limit);
        int n = labels.length;
        if (pixels.length != (long) n * IMAGE_SIZE) {
            throw new DataUnavailableException(
                    dir.resolve(imagesFile)
                            + " holds "
                            + pixels.length / IMAGE_SIZE
                            + " images but "
                            + labelsFile
                            + " holds "
                            + n
                            + " labels; "
                            + FIX);
        }
        for (int i = 0; i < n; i++) {
            if (labels[i] < 0 || labels[i] >= NUM_CLASSES) {
                throw new DataUnavailableException(
                        dir.resolve(labelsFile)
                                + ": label "
                                + labels[i]
                                + " of example "
                                + i
                                + " is outside 0.."
                                + (NUM_CLASSES - 1)
                                + "; "
                                + FIX);
            }
        }
        return new Split(pixels, labels);
    }

    /**
     * Reads the payload of one gzipped IDX file (labels: 1 byte each; images: 784 bytes each),
     * keeping only the first {@code limit} items when {@code limit > 0}.
     */
    private static byte[] readIdx(Path file, int expectedMagic, int limit) {
        try (InputStream raw = Files.newInputStream(file);
                DataInputStream in = new DataInputStream(new GZIPInputStream(raw, 1 << 16))) {
            int magic = in.readInt();
            if (magic != expectedMagic) {
                throw malformed(
                        file,
                        String.format(
                                "magic number 0x%08x, expected 0x%08x", magic, expectedMagic));
            }
            int count = in.readInt();
            int itemSize = 1;
            if (expectedMagic == IMAGES_MAGIC) {
                int rows = in.readInt();
                int columns = in.readInt();
                if (rows != ROWS || columns != COLUMNS) {
                    throw malformed(file, "images of " + rows + "x" + columns + ", expected 28x28");
                }
                itemSize = IMAGE_SIZE;
            }
            if (count <= 0) {
                throw malformed(file, "item count " + count);
            }
            int n = limit > 0 ? Math.min(limit, count) : count;
            byte[] data = new byte[Math.multiplyExact(n, itemSize)];
            in.readFully(data);
            return data;
        } catch (NoSuchFileException e) {
            throw new DataUnavailableException("Fashion-MNIST file " + file + " not found; " + FIX);
        } catch (EOFException e) {
            throw malformed(file, "the file is truncated");
        } catch (ZipException e) {
            throw malformed(file, "not a gzip file (" + e.getMessage() + ")");
        } catch (IOException e) {
            throw new DataUnavailableException(
                    "cannot read Fashion-MNIST file " + file + " (" + e + "); " + FIX, e);
        }
    }

    private static DataUnavailableException malformed(Path file, String problem) {
        return new DataUnavailableException(
                "Fashion-MNIST file " + file + " is not a valid IDX file: " + problem + "; " + FIX);
    }

    /**
     * One part of the data set (train or test): images as unsigned bytes, read as floats in [0, 1].
     * The bytes are kept rather than floats so that several in-process learners can share a data
     * set at a quarter of the memory.
     */
    public static final class Split {
        private static final float SCALE = 1f / 255f;

        private final byte[] pixels;
        private final byte[] labels;

        private Split(byte[] pixels, byte[] labels) {
            this.pixels = pixels;
            this.labels = labels;
        }

        public int size() {
            return labels.length;
        }

        /** The class of example {@code i}, 0..9. */
        public int label(int i) {
            return labels[i];
        }

        /** All labels, 0..9, in file order (a copy). */
        public int[] labels() {
            int[] out = new int[labels.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = labels[i];
            }
            return out;
        }

        /** Pixel {@code p} (row-major, 0..783) of example {@code i}, in [0, 1]. */
        public float pixel(int i, int p) {
            return (pixels[i * IMAGE_SIZE + p] & 0xff) * SCALE;
        }

        /** Example {@code i} as 784 floats in [0, 1], row-major. */
        public float[] image(int i) {
            float[] out = new float[IMAGE_SIZE];
            copyImage(i, out, 0);
            return out;
        }

        /**
         * Writes example {@code i} as 784 floats in [0, 1] into {@code dst} from {@code offset}.
         */
        public void copyImage(int i, float[] dst, int offset) {
            int base = i * IMAGE_SIZE;
            for (int p = 0; p < IMAGE_SIZE; p++) {
                dst[offset + p] = (pixels[base + p] & 0xff) * SCALE;
            }
        }
    }

    /** The data files are missing or malformed; the message names the fix. */
    public static final class DataUnavailableException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        DataUnavailableException(String message) {
            super(message);
        }

        DataUnavailableException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
