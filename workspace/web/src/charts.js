// The reports page's charts (uPlot), a separate script loaded on demand (views/reports.js).
import uPlot from 'uplot';

window.omnirouteCharts = { uPlot };
