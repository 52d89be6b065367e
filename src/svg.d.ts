// SVG files are bundled as their source text (raw loader), as LabIcon expects.
declare module '*.svg' {
  const svgstr: string;
  export default svgstr;
}
