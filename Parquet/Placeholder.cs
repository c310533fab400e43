namespace Coordinated.Parquet; internal static class Placeholder {}
