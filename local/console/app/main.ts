/// <reference lib="dom" />
document.getElementById('main')!.textContent = 'opsflow console';
