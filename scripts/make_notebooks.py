# ruff: noqa: E501  (the strings are notebook cells, kept as they read in the notebook)
"""Write notebooks/01..06 from the cells below (outputs empty; nbval runs them in the suite).

Run ``python scripts/make_notebooks.py`` after editing; the notebooks are committed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

OUT = Path(__file__).resolve().parents[1] / "notebooks"

M, C = "markdown", "code"

NOTEBOOKS = {
    "01_quickstart.ipynb": [
        (
            M,
            "# 01 · Quickstart\n\nA strategy written as for backtesting.py, run on the bundled "
            "`DEMO` data (offline), its stats, and the live chart replaying it.",
        ),
        (
            C,
            "import pandas as pd\nimport algobt\nfrom algobt import Strategy\nfrom algobt.lib import crossover\n\n"
            "def SMA(values, n):\n    return pd.Series(values).rolling(n).mean()\n\n"
            "class SmaCross(Strategy):\n    fast = 10\n    slow = 30\n\n"
            "    def init(self):\n        self.a = self.I(SMA, self.data.Close, self.fast)\n"
            "        self.b = self.I(SMA, self.data.Close, self.slow)\n\n"
            "    def next(self):\n        if crossover(self.a, self.b):\n            self.position.close(); self.buy()\n"
            "        elif crossover(self.b, self.a):\n            self.position.close(); self.sell()",
        ),
        (
            M,
            "`algobt.backtest` loads the data and runs it; the `Result` is backtesting.py's stats "
            "Series, and shows itself as a table with an equity sparkline.",
        ),
        (
            C,
            "result = algobt.backtest(SmaCross, 'DEMO', period='2y', commission=0.001)\n"
            "assert result['# Trades'] == len(result.trades) > 0\nresult",
        ),
        (C, "result[['Return [%]', 'Sharpe Ratio', 'Max. Drawdown [%]', 'Win Rate [%]']]"),
        (
            M,
            "The live chart plays the run bar by bar from a thread of the kernel, so the notebook "
            "stays usable. Displayed, it starts by itself; here we also wait for it.",
        ),
        (
            C,
            "from algobt.widgets import LiveChart\n\nchart = LiveChart(result, indicators={'SMA': {'periods': [10, 30]}})\n"
            "chart.play()\nassert chart.wait(60) == 'complete'\n"
            "assert chart.bars_sent == len(result.equity_curve)\nchart",
        ),
        (C, "result.plot()  # cards, equity with drawdown, daily P&L, trades"),
    ],
    "02_json_strategies.ipynb": [
        (
            M,
            "# 02 · Canonical JSON strategies and validation\n\nA strategy as data "
            "(docs/rules.md): checked, run, and turned into Python.",
        ),
        (
            C,
            "from algobt import load\nfrom algobt.engine.rules import run_spec, spec_parameters, "
            "to_python, validate_spec\n\n"
            "spec = {'name': 'EMA cross', 'version': 1,\n"
            "        'indicators': {'fast': {'type': 'EMA', 'period': 9}, 'slow': {'type': 'EMA', 'period': 21}},\n"
            "        'entry': {'long': {'crosses_above': ['fast', 'slow']}},\n"
            "        'exit': {'long': {'crosses_below': ['fast', 'slow']}}}\n"
            "assert validate_spec(spec) == []",
        ),
        (M, "A mistake is reported with its JSON path and a message saying how to fix it."),
        (
            C,
            "bad = {**spec, 'indicators': {'fast': {'type': 'EMAX', 'period': 9}}}\n"
            "errors = validate_spec(bad)\nassert errors and all('path' in e and 'message' in e for e in errors)\nerrors",
        ),
        (
            C,
            "result = run_spec(spec, load('DEMO', period='2y'))\nassert result['# Trades'] > 0\n"
            "spec_parameters(spec)",
        ),
        (C, "print(to_python(spec))"),
        (
            C,
            "from algobt.widgets import LiveChart\n"
            "chart = LiveChart({'symbol': 'DEMO', 'period': '1y', 'strategy_code': spec,\n"
            "                   'indicators': {'EMA': {'periods': [9, 21]}}})\n"
            "chart.play(); assert chart.wait(60) == 'complete'\nchart",
        ),
    ],
    "03_multi_symbol.ipynb": [
        (
            M,
            "# 03 · Multi-symbol runs, daily and symbol stats\n\nOne config over several "
            "symbols: capital split evenly, one combined result, stats per day and per symbol.",
        ),
        (
            C,
            "from pathlib import Path\nimport pandas as pd\nfrom algobt.engine.run import run_config\n\n"
            "code = Path('../examples/sma_cross.py').read_text()\n"
            "outcome = run_config({'symbols': ['DEMO', 'DEMO-FX', 'DEMO-BTC'], 'period': '1y', 'strategy_code': code})\n"
            "report = outcome.to_dict()\nassert set(outcome.per_symbol) == {'DEMO', 'DEMO-FX', 'DEMO-BTC'}",
        ),
        (
            C,
            "symbols = pd.DataFrame(report['symbol_stats'])\n"
            "assert symbols['trades'].sum() == report['total_trades']\nsymbols",
        ),
        (C, "daily = pd.DataFrame(report['daily_stats'])\nassert len(daily) > 200\ndaily.tail()"),
        (C, "from algobt.widgets import ResultWidget\nResultWidget(report)"),
    ],
    "04_parameter_sweeps.ipynb": [
        (
            M,
            "# 04 · Parameter sweeps and heat maps\n\nA small grid run by a plain loop; the "
            "table is tidy (one column per parameter, one per metric), which is what the "
            "Heatmap widget reads.",
        ),
        (
            C,
            "import itertools\nimport pandas as pd\nimport algobt\nfrom algobt.examples import SmaCross\n\n"
            "rows = []\nfor fast, slow in itertools.product([5, 10, 15, 20], [30, 40, 50]):\n"
            "    r = algobt.backtest(SmaCross, 'DEMO', period='2y', params={'fast': fast, 'slow': slow})\n"
            "    rows.append({'fast': fast, 'slow': slow, 'Return [%]': r['Return [%]'],\n"
            "                 'Sharpe Ratio': r['Sharpe Ratio'], '# Trades': r['# Trades']})\n"
            "table = pd.DataFrame(rows)\nassert len(table) == 12\ntable.sort_values('Sharpe Ratio', ascending=False).head()",
        ),
        (
            C,
            "from algobt.widgets import Heatmap\nheat = Heatmap(table, x='fast', y='slow', metric='Sharpe Ratio')\n"
            "assert heat.grid().loc[30, 5] == table.query('fast == 5 and slow == 30')['Sharpe Ratio'].item()\nheat",
        ),
        (
            C,
            "from algobt.widgets import Compare\nbest = table.loc[table['Sharpe Ratio'].idxmax()]\n"
            "worst = table.loc[table['Sharpe Ratio'].idxmin()]\n"
            "runs = [algobt.backtest(SmaCross, 'DEMO', period='2y', params={'fast': int(r.fast), 'slow': int(r.slow)}) for r in (best, worst)]\n"
            "Compare(runs)",
        ),
    ],
    "05_store_and_server.ipynb": [
        (
            M,
            "# 05 · The store and the server from a kernel\n\nRuns saved from a notebook land "
            "in the same SQLite store the server reads; `algobt.serve()` starts the server on "
            "the kernel's own loop. Open the printed link to see these runs in the page's history.",
        ),
        (
            C,
            "import tempfile, json, urllib.request\nfrom pathlib import Path\nimport algobt\n"
            "from algobt.examples import SmaCross\nfrom algobt.store import Store, save_run\n\n"
            "db = Path(tempfile.mkdtemp()) / 'algobt.db'   # a scratch store; leave out db= for ~/.algobt\n"
            "store = Store(db)\nresult = algobt.backtest(SmaCross, 'DEMO', period='1y')\n"
            "run = save_run(result, strategy_name='SMA cross', store=store)\nassert run['status'] == 'completed'\nrun['id']",
        ),
        (C, "from algobt.widgets import StoredRun\nStoredRun(run['id'], store=store)"),
        (C, "server = algobt.serve(db=db, quiet=True)\nprint('open', server.url)"),
        (
            M,
            "The server answers while the kernel stays free (here we ask it ourselves; the "
            "request runs in a thread because the server shares this kernel's loop).",
        ),
        (
            C,
            "import concurrent.futures, asyncio\n"
            "def get(path):\n    req = urllib.request.Request(server.base_url + path, headers={'Authorization': f'token {server.token}'})\n"
            "    with urllib.request.urlopen(req, timeout=30) as resp:\n        return json.load(resp)\n"
            "loop = asyncio.get_running_loop()\n"
            "runs = await loop.run_in_executor(None, get, '/api/backtests/runs/')\n"
            "ids = [r['id'] for r in (runs['results'] if isinstance(runs, dict) else runs)]\n"
            "assert run['id'] in ids\nids",
        ),
        (C, "server.stop(); store.close()"),
    ],
    "06_your_own_data.ipynb": [
        (
            M,
            "# 06 · Bringing your own data\n\nCSV and Parquet files with OHLCV columns load "
            "like the demo symbols. Yahoo tickers (`algobt.load('AAPL')`) need the internet "
            "the first time and are then read from the cache (`cache_dir=`), so a notebook can "
            "run offline once its data is cached. Here we write our own files from the demo data.",
        ),
        (
            C,
            "import tempfile\nfrom pathlib import Path\nimport algobt\nfrom algobt.examples import SmaCross\n\n"
            "folder = Path(tempfile.mkdtemp())\nbars = algobt.load('DEMO', period='1y')\n"
            "bars.to_csv(folder / 'mine.csv')\nbars.to_parquet(folder / 'mine.parquet')\nbars.head(3)",
        ),
        (
            C,
            "from_csv = algobt.load(folder / 'mine.csv')\nfrom_parquet = algobt.load(folder / 'mine.parquet')\n"
            "assert len(from_csv) == len(from_parquet) == len(bars)\n"
            "assert (from_csv['Close'].to_numpy() == bars['Close'].to_numpy()).all()",
        ),
        (
            C,
            "result = algobt.backtest(SmaCross, folder / 'mine.csv')\n"
            "assert result['# Trades'] == algobt.backtest(SmaCross, 'DEMO', period='1y')['# Trades']\nresult",
        ),
    ],
}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nb.cells = [
            nbformat.v4.new_markdown_cell(src) if kind == M else nbformat.v4.new_code_cell(src)
            for kind, src in cells
        ]
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"c{i:02d}"
        nbformat.write(nb, OUT / name)


if __name__ == "__main__":
    main()
