using Coordinated.Checkpointing;

namespace Coordinated.Tests.MultiLevel;

/// <summary>The local level's names, rank ranges, directory patterns and block checksums, without MPI.</summary>
[Category("MultiLevel")]
public sealed class LocalFileTests
{
    [TestCase(new[] { 4, 5 }, "4-5")]
    [TestCase(new[] { 0, 1, 2, 8, 10, 11 }, "0-2_8_10-11")]
    [TestCase(new[] { 3 }, "3")]
    public void Rank_ranges_round_trip(int[] ranks, string text)
    {
        Assert.That(NodeLayout.Ranges(ranks, "_"), Is.EqualTo(text));
        Assert.That(NodeLayout.ParseRanges(text), Is.EqualTo(ranks));
    }

    [TestCase("")]
    [TestCase("5-3")]
    [TestCase("1--2")]
    [TestCase("a")]
    public void Malformed_rank_ranges_are_refused(string text) => Assert.That(NodeLayout.ParseRanges(text), Is.Null);

    [Test]
    public void File_names_say_app_step_ranks_count_and_kind_and_parse_back()
    {
        string name = LocalFile.Name("my-app", 1200, [4, 5, 8], 12, partner: true);
        Assert.That(name, Is.EqualTo("my-app-000001200-ranks-4-5_8-of-12.partner.lckpt"));
        var parsed = LocalFile.ParseName(name);
        Assert.That(parsed, Is.Not.Null);
        Assert.That((parsed!.Value.App, parsed.Value.Step, parsed.Value.Size, parsed.Value.Partner), Is.EqualTo(("my-app", 1200L, 12, true)));
        Assert.That(parsed.Value.Ranks, Is.EqualTo(new[] { 4, 5, 8 }));
        Assert.That(LocalFile.ParseName(".my-app-000001200-ranks-4-5_8-of-12.partner.lckpt.tmp"), Is.Null, "temporaries are not checkpoints");
        Assert.That(LocalFile.ParseName("ckpt-000001200.h5"), Is.Null);
    }

    [Test]
    public void Directory_patterns_expand_node_and_job()
    {
        string? job = Environment.GetEnvironmentVariable("SLURM_JOB_ID");
        string expected = string.IsNullOrEmpty(job) ? "nojob" : job;
        Assert.That(NodeLayout.Expand("/dev/shm/%j/%N/100%%", "node/3"), Is.EqualTo($"/dev/shm/{expected}/node_3/100%"));
    }

    [Test]
    public void Block_checksums_cover_every_4_MiB_block_and_match_one_stream()
    {
        var data = new byte[(LocalFile.BlockBytes * 4) + 1000];
        new Random(3).NextBytes(data);
        uint[] crcs = LocalFile.BlockChecksums(data);
        Assert.That(crcs, Has.Length.EqualTo(5));
        for (int b = 0; b < crcs.Length; b++)
        {
            int start = b * LocalFile.BlockBytes;
            Assert.That(crcs[b], Is.EqualTo(Crc32C.Compute(data.AsSpan(start, Math.Min(LocalFile.BlockBytes, data.Length - start)))), $"block {b}");
        }

        Assert.That(LocalFile.BlockChecksums([]), Is.Empty);
    }
}
