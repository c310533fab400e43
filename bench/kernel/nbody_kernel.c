/*
 * Reference direct-summation gravity kernel for the Coordinated N-body benchmark.
 *
 * The same mathematics as Apps/NBody/Physics/ForceKernel.cs, written as the plain double loop a C
 * programmer would write (i outer, j inner, no intrinsics, no -ffast-math), with the same operation
 * order so that, built with -ffp-contract=off (no fused multiply-add), it gives the same bits.
 *
 * Usage: nbody_kernel INPUT OUTPUT REPEATS
 *   INPUT  little-endian: int64 n, double eps2, double positions[3n] (x0 y0 z0 x1 ...), double masses[n]
 *   OUTPUT double accelerations[3n] from the last repeat
 * Prints one line:
 *   NBODY_KERNEL n=<n> repeats=<r> best_seconds=<s> ginteractions_per_s=<g>
 * where an interaction is one (target, source) pair, n*n per evaluation, and best_seconds is the
 * fastest of the repeats.
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void accelerations(int64_t n, const double *pos, const double *mass, double eps2, double *acc)
{
    for (int64_t i = 0; i < n; i++) {
        double xi = pos[3 * i], yi = pos[3 * i + 1], zi = pos[3 * i + 2];
        double ax = 0.0, ay = 0.0, az = 0.0;
        for (int64_t j = 0; j < n; j++) {
            double dx = pos[3 * j] - xi;
            double dy = pos[3 * j + 1] - yi;
            double dz = pos[3 * j + 2] - zi;
            double r2 = dx * dx + dy * dy + dz * dz + eps2;
            double s = mass[j] / (r2 * sqrt(r2));
            if (r2 == 0.0) {
                s = 0.0; /* pairs at zero separation (eps2 == 0) contribute nothing */
            }
            ax += s * dx;
            ay += s * dy;
            az += s * dz;
        }
        acc[3 * i] = ax;
        acc[3 * i + 1] = ay;
        acc[3 * i + 2] = az;
    }
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail(const char *message, const char *path)
{
    fprintf(stderr, "nbody_kernel: %s: %s\n", message, path);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s INPUT OUTPUT REPEATS\n", argv[0]);
        return 2;
    }
    int repeats = atoi(argv[3]);
    if (repeats < 1) {
        return fail("REPEATS must be at least 1", argv[3]);
    }

    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        return fail("cannot open input", argv[1]);
    }
    int64_t n;
    double eps2;
    if (fread(&n, sizeof n, 1, in) != 1 || fread(&eps2, sizeof eps2, 1, in) != 1 || n < 1) {
        return fail("bad header", argv[1]);
    }
    double *pos = malloc(sizeof(double) * 3 * (size_t)n);
    double *mass = malloc(sizeof(double) * (size_t)n);
    double *acc = malloc(sizeof(double) * 3 * (size_t)n);
    if (!pos || !mass || !acc) {
        return fail("out of memory", argv[1]);
    }
    if (fread(pos, sizeof(double), 3 * (size_t)n, in) != 3 * (size_t)n
        || fread(mass, sizeof(double), (size_t)n, in) != (size_t)n) {
        return fail("truncated input", argv[1]);
    }
    fclose(in);

    double best = INFINITY;
    for (int r = 0; r < repeats; r++) {
        double start = now_seconds();
        accelerations(n, pos, mass, eps2, acc);
        double elapsed = now_seconds() - start;
        if (elapsed < best) {
            best = elapsed;
        }
    }

    FILE *out = fopen(argv[2], "wb");
    if (!out) {
        return fail("cannot open output", argv[2]);
    }
    if (fwrite(acc, sizeof(double), 3 * (size_t)n, out) != 3 * (size_t)n || fclose(out) != 0) {
        return fail("cannot write output", argv[2]);
    }

    printf("NBODY_KERNEL n=%lld repeats=%d best_seconds=%.9f ginteractions_per_s=%.6f\n",
           (long long)n, repeats, best, (double)n * (double)n / best * 1e-9);
    free(pos);
    free(mass);
    free(acc);
    return 0;
}
