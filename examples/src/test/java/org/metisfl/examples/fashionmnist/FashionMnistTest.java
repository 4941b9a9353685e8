package org.metisfl.examples.fashionmnist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FashionMnistTest {

    private static FashionMnist data;

    @BeforeAll
    static void load() {
        data = FashionMnist.load();
    }

    @Test
    void readsAllSixtyThousandTrainingAndTenThousandTestExamples() {
        assertThat(data.train().size()).isEqualTo(60_000);
        assertThat(data.test().size()).isEqualTo(10_000);
    }

    @Test
    void firstLabelsMatchTheKnownFiles() {
        // The first bytes of train-labels-idx1-ubyte and t10k-labels-idx1-ubyte after the header.
        assertThat(firstLabels(data.train(), 6)).containsExactly(9, 0, 0, 3, 0, 2);
        assertThat(firstLabels(data.test(), 6)).containsExactly(9, 2, 1, 1, 6, 1);
        assertThat(FashionMnist.CLASS_NAMES.get(data.train().label(0))).isEqualTo("Ankle boot");
    }

    @Test
    void everyClassHasSixThousandTrainingAndOneThousandTestExamples() {
        assertThat(classCounts(data.train())).containsOnly(6_000);
        assertThat(classCounts(data.test())).containsOnly(1_000);
    }

    @Test
    void pixelsAreScaledIntoZeroOneAndUseTheWholeRange() {
        for (FashionMnist.Split split : new FashionMnist.Split[] {data.train(), data.test()}) {
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            float[] image = new float[FashionMnist.IMAGE_SIZE];
            for (int i = 0; i < split.size(); i++) {
                split.copyImage(i, image, 0);
                for (float v : image) {
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
            }
            assertThat(min).isEqualTo(0f);
            assertThat(max).isEqualTo(1f);
        }
        // The first training image (an ankle boot) has a dark border and bright pixels inside.
        float[] first = data.train().image(0);
        assertThat(first[0]).isZero();
        assertThat(data.train().pixel(0, 14 * 28 + 14)).isEqualTo(first[14 * 28 + 14]);
        double mean = 0;
        for (float v : first) {
            mean += v;
        }
        assertThat(mean / first.length).isBetween(0.2, 0.6);
    }

    @Test
    void limitsKeepOnlyTheFirstExamples() {
        FashionMnist small = FashionMnist.load(FashionMnist.DEFAULT_DIR, 100, 30);

        assertThat(small.train().size()).isEqualTo(100);
        assertThat(small.test().size()).isEqualTo(30);
        for (int i = 0; i < 100; i++) {
            assertThat(small.train().label(i)).isEqualTo(data.train().label(i));
        }
        assertThat(small.train().image(99)).containsExactly(data.train().image(99));
        assertThat(small.test().image(29)).containsExactly(data.test().image(29));
    }

    @Test
    void missingDirectoryNamesTheFileAndTheAptFix(@TempDir Path empty) {
        assertThatThrownBy(() -> FashionMnist.load(empty.resolve("nowhere"), 0, 0))
                .isInstanceOf(FashionMnist.DataUnavailableException.class)
                .hasMessageContaining(FashionMnist.TRAIN_LABELS)
                .hasMessageContaining("not found")
                .hasMessageContaining("apt-get install dataset-fashion-mnist");
    }

    @Test
    void fileThatIsNotGzipIsReportedAsMalformed(@TempDir Path dir) throws IOException {
        copyAll(dir);
        Files.writeString(dir.resolve(FashionMnist.TEST_IMAGES), "not an IDX file");

        assertThatThrownBy(() -> FashionMnist.load(dir, 10, 10))
                .isInstanceOf(FashionMnist.DataUnavailableException.class)
                .hasMessageContaining(FashionMnist.TEST_IMAGES)
                .hasMessageContaining("not a valid IDX file")
                .hasMessageContaining("apt-get install dataset-fashion-mnist");
    }

    @Test
    void labelsFileInPlaceOfImagesIsRejectedByItsMagicNumber(@TempDir Path dir) throws IOException {
        copyAll(dir);
        Files.copy(
                dir.resolve(FashionMnist.TRAIN_LABELS),
                dir.resolve(FashionMnist.TRAIN_IMAGES),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);

        assertThatThrownBy(() -> FashionMnist.load(dir, 10, 10))
                .isInstanceOf(FashionMnist.DataUnavailableException.class)
                .hasMessageContaining(FashionMnist.TRAIN_IMAGES)
                .hasMessageContaining("magic number 0x00000801, expected 0x00000803");
    }

    @Test
    void truncatedFileIsReported(@TempDir Path dir) throws IOException {
        copyAll(dir);
        try (OutputStream out =
                new GZIPOutputStream(
                        Files.newOutputStream(dir.resolve(FashionMnist.TEST_LABELS)))) {
            out.write(new byte[] {0, 0, 8, 1, 0, 0, 0, 100, 1, 2, 3}); // claims 100, holds 3
        }

        assertThatThrownBy(() -> FashionMnist.load(dir, 0, 0))
                .isInstanceOf(FashionMnist.DataUnavailableException.class)
                .hasMessageContaining(FashionMnist.TEST_LABELS)
                .hasMessageContaining("truncated");
    }

    private static void copyAll(Path dir) throws IOException {
        for (String name :
                new String[] {
                    FashionMnist.TRAIN_IMAGES,
                    FashionMnist.TRAIN_LABELS,
                    FashionMnist.TEST_IMAGES,
                    FashionMnist.TEST_LABELS
                }) {
            Files.copy(FashionMnist.DEFAULT_DIR.resolve(name), dir.resolve(name));
        }
    }

    private static int[] firstLabels(FashionMnist.Split split, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = split.label(i);
        }
        return out;
    }

    private static int[] classCounts(FashionMnist.Split split) {
        int[] counts = new int[FashionMnist.NUM_CLASSES];
        for (int label : split.labels()) {
            counts[label]++;
        }
        return counts;
    }
}
