/* Pure UI: how the log-scale sliders print their value in their tooltip.
   The sliders carry log10 of the value; these turn it back into a number. */
window.dccFunctions = window.dccFunctions || {};

function linclsShort(x) {
  if (x === 0) return "0";
  if (x >= 0.01 && x < 1000) return String(Number(x.toPrecision(2)));
  var s = x.toExponential(1).replace(".0e", "e").replace("e+", "e");
  return s;
}

window.dccFunctions.linclsPow10 = function (v) {
  return linclsShort(Math.pow(10, v));
};

window.dccFunctions.linclsReg = function (v) {
  return v <= -6.999 ? "0" : linclsShort(Math.pow(10, v));
};
