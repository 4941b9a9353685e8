/**
 * Central differential privacy as pure maths, no Flink: per-update L2 clipping ({@link
 * L2Clipping}), adaptive clipping ({@link AdaptiveClipping}, Andrew et al. 2021), Gaussian noise
 * ({@link GaussianNoise}) and a Rényi-DP accountant of the sampled Gaussian mechanism ({@link
 * RdpAccountant}, Mironov 2017; Mironov, Talwar and Zhang 2019). The DP-FedAvg rule and the job
 * wire them together; docs/explanation/privacy.md explains the threat model.
 */
package org.metisfl.flink.privacy;
