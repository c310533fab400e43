namespace Coordinated; internal static class Placeholder {}
