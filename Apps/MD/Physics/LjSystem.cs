namespace Coordinated.Apps.MD.Physics;

/// <summary>
/// The Lennard-Jones system of LAMMPS's <c>in.lj</c> benchmark, in reduced units (epsilon = sigma = mass = 1):
/// an fcc lattice of <see cref="Cells"/>^3 unit cells at reduced density <see cref="Density"/>, velocities drawn
/// for temperature <see cref="Temperature"/>, the pair potential cut at <see cref="Cutoff"/>, neighbour lists with
/// <see cref="Skin"/> rebuilt every <see cref="RebuildEvery"/> steps, velocity Verlet with time step <see cref="Dt"/>.
/// </summary>
internal sealed record LjSystem(
    int Cells,
    double Density = 0.8442,
    double Temperature = 1.44,
    double Cutoff = 2.5,
    double Skin = 0.3,
    int RebuildEvery = 20,
    double Dt = 0.005,
    ulong Seed = 87287)
{
    /// <summary>Edge of the cubic fcc unit cell: four atoms per a^3.</summary>
    internal double LatticeConstant => Math.Cbrt(4.0 / Density);

    /// <summary>Edge of the periodic cubic box.</summary>
    internal double Box => Cells * LatticeConstant;

    internal long Atoms => 4L * Cells * Cells * Cells;

    /// <summary>Neighbour-list and halo reach: cutoff plus skin.</summary>
    internal double GhostCutoff => Cutoff + Skin;

    /// <summary>Why this system cannot run on <paramref name="ranks"/> ranks, or null if it can.</summary>
    internal string? Problem(int ranks)
    {
        if (!(Density > 0) || !double.IsFinite(Density))
        {
            return $"--density {Density} must be > 0";
        }

        if (!(Cutoff > 0) || !double.IsFinite(Cutoff))
        {
            return $"--cutoff {Cutoff} must be > 0";
        }

        if (Skin < 0 || !double.IsFinite(Skin))
        {
            return $"--skin {Skin} must be >= 0";
        }

        if (Cells < 1)
        {
            return $"--cells {Cells} gives a box of zero size; use at least 1 fcc cell per side";
        }

        if (!(Box > 2 * GhostCutoff))
        {
            return $"the box ({Cells} cells x {LatticeConstant:G6} = {Box:G6}) must be wider than twice cutoff + skin ({2 * GhostCutoff:G6}) so that each atom meets one periodic image of another; use more --cells";
        }

        if (ranks > Atoms / 4)
        {
            return $"{ranks} ranks is more ranks than cells ({Cells}^3 = {Atoms / 4}); use fewer ranks or more --cells";
        }

        if (DomainGrid.Choose(ranks, Box, GhostCutoff) is null)
        {
            return $"{ranks} ranks cannot split a box of {Box:G6} into subdomains at least cutoff + skin = {GhostCutoff:G6} wide in every direction " +
                $"(at most {(int)Math.Floor(Box / GhostCutoff)} per direction); use fewer ranks or more --cells";
        }

        return null;
    }
}
