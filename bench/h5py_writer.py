#!/usr/bin/python3
"""The h5py-mpi peer of our checkpoint: the same pos+vel arrays ([N,3] float64 each, same values as
bench/CheckpointBench), written collectively with the mpio driver to a temporary name, then fsync and rename,
K times, GAP seconds apart (the computation between checkpoints). It keeps the newest KEEP files, like our
runtime's --keep: after each committed write the file KEEP writes older is deleted at the start of the gap,
untimed, as our runtime retires it in the background (same retention, so both writers hold as many files in the
page cache; on this VM that matters, see FACTS). Prints one line of JSON with the per-write seconds (slowest
rank, from the barrier before create to the rename).
Usage: mpirun -n R python3 bench/h5py_writer.py N K DIR [GAP] [KEEP]"""
import json, os, sys, time

import h5py
import numpy as np
from mpi4py import MPI

comm = MPI.COMM_WORLD
n, repeat, directory = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
gap = float(sys.argv[4]) if len(sys.argv) > 4 else 0.5
keep = int(sys.argv[5]) if len(sys.argv) > 5 else 1
rank, size = comm.Get_rank(), comm.Get_size()
first = rank * (n // size) + min(rank, n % size)
count = n // size + (1 if rank < n % size else 0)
index = (np.arange(first, first + count, dtype=np.float64)[:, None] * 3) + np.arange(3)
pos, vel = np.sin(index), np.cos(index)

times = []
for k in range(repeat):
    final = os.path.join(directory, f"h5py-{k:03d}.h5")
    temp = final + ".tmp"
    if k > 0:
        time.sleep(gap)
    comm.Barrier()
    t0 = time.perf_counter()
    with h5py.File(temp, "w", driver="mpio", comm=comm) as f:
        for name, data in (("pos", pos), ("vel", vel)):
            dset = f.create_dataset(f"state/{name}", (n, 3), dtype="f8")
            with dset.collective:
                dset[first:first + count] = data
    fd = os.open(temp, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    comm.Barrier()
    if rank == 0:
        os.rename(temp, final)
        dfd = os.open(directory, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
    comm.Barrier()
    elapsed = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    times.append(elapsed)
    if rank == 0 and k >= keep:
        os.remove(os.path.join(directory, f"h5py-{k - keep:03d}.h5"))  # untimed, like our runtime's background retention
if rank == 0:
    print(json.dumps({"writer": "h5py", "particles": n, "ranks": size, "seconds": times}))
