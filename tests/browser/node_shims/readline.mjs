// node:readline for Chromium: the lines of the child_process shim's stdout are already
// whole lines.

export const createInterface = ({ input }) => input;
export default { createInterface };
