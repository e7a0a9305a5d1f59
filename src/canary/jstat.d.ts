// jstat ships no type declarations; these cover the two calls triad makes (the standard normal CDF and quantile).
declare module 'jstat' {
  interface NormalDistribution {
    cdf(x: number, mean: number, std: number): number;
    inv(p: number, mean: number, std: number): number;
  }
  interface LognormalDistribution {
    inv(p: number, mu: number, sigma: number): number;
  }
  const jStat: { normal: NormalDistribution; lognormal: LognormalDistribution };
  export default jStat;
}
