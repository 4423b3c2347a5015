"""`chainrule serve`: a local web page for matrix calculus, and the HTML that notebooks show.

- `jobs.py`: one request of the page (derive, explain, trace, export) as plain data, computed in a worker process;
- `pool.py`: the worker processes, each request with a time limit (a runaway is killed and replaced);
- `server.py`: the HTTP server (standard library only), its checks (Host header, sizes) and the static page;
- `command.py`: the `serve` subcommand.

The HTML the page shows is made by the printers of each layer, which Jupyter's rich display uses too:
notation/mathml.py (LaTeX -> MathML, with latex2mathml), notation/svg.py (a data-flow graph as SVG, each node
clickable on the page), explain/html.py (a derivation), trace/html.py (a trace's tables). Nothing imports web/.
"""
