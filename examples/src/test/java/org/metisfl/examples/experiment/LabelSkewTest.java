package org.metisfl.examples.experiment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.metisfl.examples.fashionmnist.FashionMnist;
import org.metisfl.examples.fashionmnist.Partitioner;

class LabelSkewTest {

    @Test
    void measuresAHandBuiltSplit() {
        // labels 0 0 0 1 | 1 1 1 0: each part is 3/4 one class, the whole is 1/2 each,
        // so each part is 1/4 away in total variation and needs both classes for 90%.
        int[] labels = {0, 0, 0, 1, 1, 1, 1, 0};
        int[][] parts = {{0, 1, 2, 3}, {4, 5, 6, 7}};

        LabelSkew s = LabelSkew.of(parts, labels, 2);

        assertThat(s.meanTotalVariation()).isCloseTo(0.25, within(1e-12));
        assertThat(s.meanClassesFor90()).isCloseTo(2.0, within(1e-12));
        LabelSkew pure = LabelSkew.of(new int[][] {{0, 1, 2}, {3, 4, 5, 6}}, labels, 2);
        assertThat(pure.meanClassesFor90()).isCloseTo(1.0, within(1e-12));
    }

    @Test
    void theExperimentsDirichletSplitsOfFashionMnistAreFarMoreSkewedThanIid() {
        int[] labels = FashionMnist.load(FashionMnist.DEFAULT_DIR, 0, 1).train().labels();

        LabelSkew iid = LabelSkew.of(Partitioner.iid(labels.length, 10, 42), labels, 10);
        LabelSkew half = LabelSkew.of(Partitioner.dirichlet(labels, 10, 10, 0.5, 42), labels, 10);
        LabelSkew tenth = LabelSkew.of(Partitioner.dirichlet(labels, 10, 10, 0.1, 42), labels, 10);

        // IID parts of 6,000 from 10 balanced classes: each class share deviates from 0.1 by
        // about sqrt(2/pi) * sqrt(0.1 * 0.9 / 6000) = 0.0031 on average, so the total variation
        // is about 10 * 0.0031 / 2 = 0.015; every part needs 9 classes for 90% of it.
        assertThat(iid.meanTotalVariation()).isBetween(0.005, 0.03);
        assertThat(iid.meanClassesFor90()).isGreaterThanOrEqualTo(9.0);
        // Dirichlet(0.1) gives most of each class to one or two parts.
        assertThat(tenth.meanTotalVariation()).isGreaterThan(0.5);
        assertThat(tenth.meanClassesFor90()).isLessThan(4.0);
        assertThat(half.meanTotalVariation())
                .isGreaterThan(iid.meanTotalVariation() * 10)
                .isLessThan(tenth.meanTotalVariation());
        System.out.printf(
                "label skew (TV, classes for 90%%): iid %.3f %.1f, dir0.5 %.3f %.1f, dir0.1 %.3f"
                        + " %.1f%n",
                iid.meanTotalVariation(),
                iid.meanClassesFor90(),
                half.meanTotalVariation(),
                half.meanClassesFor90(),
                tenth.meanTotalVariation(),
                tenth.meanClassesFor90());
    }
}
