package org.metisfl.learner.internal;

import java.util.ArrayList;
import java.util.List;
import org.metisfl.learner.task.NamedTensor;

/**
 * Learner-side clipping for central differential privacy: the update's delta (trained weights minus
 * the task's model) is scaled to an L2 norm of at most the clip norm, over all tensors together,
 * and the learner uploads {@code model + clipped delta}. The job enforces the same bound again, so
 * this saves it no trust, but the learner reports whether its delta was within the norm (the bit
 * adaptive clipping counts).
 */
final class UpdateClipping {

    private UpdateClipping() {}

    /**
     * @param weights the clipped weights to upload
     * @param norm the delta's L2 norm before clipping
     * @param unclipped whether that norm was within the clip norm
     */
    record Result(List<NamedTensor> weights, double norm, boolean unclipped) {}

    static Result clip(List<NamedTensor> global, List<NamedTensor> trained, double clipNorm) {
        if (!(clipNorm > 0) || Double.isInfinite(clipNorm)) {
            throw new IllegalArgumentException("clip norm must be finite and > 0, was " + clipNorm);
        }
        if (global.size() != trained.size()) {
            throw new IllegalArgumentException(
                    "the trained model has "
                            + trained.size()
                            + " tensors, the task's model "
                            + global.size());
        }
        double squared = 0;
        for (int t = 0; t < trained.size(); t++) {
            float[] w = trained.get(t).values();
            float[] g = global.get(t).values();
            if (w.length != g.length) {
                throw new IllegalArgumentException(
                        "tensor "
                                + trained.get(t)
                                + " has "
                                + w.length
                                + " values, in the task's model "
                                + g.length);
            }
            for (int i = 0; i < w.length; i++) {
                double d = (double) w[i] - g[i];
                squared += d * d;
            }
        }
        double norm = Math.sqrt(squared);
        if (norm <= clipNorm) {
            return new Result(trained, norm, true);
        }
        // Leave room for float32 rounding; the job re-checks the bound on what arrives.
        double factor = clipNorm / norm * (1 - 0x1p-20);
        List<NamedTensor> out = new ArrayList<>(trained.size());
        for (int t = 0; t < trained.size(); t++) {
            NamedTensor nt = trained.get(t);
            float[] w = nt.values();
            float[] g = global.get(t).values();
            float[] c = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                c[i] = (float) (g[i] + ((double) w[i] - g[i]) * factor);
            }
            out.add(new NamedTensor(nt.name(), nt.shape(), c));
        }
        return new Result(out, norm, false);
    }
}
