#!/usr/bin/python3
"""The original project's stack, for a side-by-side benchmark: a Flask app
answering POST /predict {"features": [...]} with {"prediction": N} from a
scikit-learn LogisticRegression fitted on data/iris.csv (Debian's
python3-flask and python3-sklearn).

  /usr/bin/python3 scripts/bench/flask-app.py DATA_CSV

Listens on 127.0.0.1 on a free port with Flask's own server (threaded, as
`app.run()` is by default), and prints {"msg": "serving", "port": N} on
stdout once it accepts connections.
"""
import json
import logging
import sys

import numpy as np
from flask import Flask, jsonify, request
from sklearn.linear_model import LogisticRegression
from werkzeug.serving import make_server

rows = [line.strip().split(",") for line in open(sys.argv[1]).read().strip().splitlines()[1:]]
X = np.array([[float(v) for v in r[:4]] for r in rows])
classes = sorted(set(r[4] for r in rows))
y = np.array([classes.index(r[4]) for r in rows])
model = LogisticRegression(C=1.0, max_iter=1000).fit(X, y)

app = Flask(__name__)
logging.getLogger("werkzeug").setLevel(logging.ERROR)


@app.route("/predict", methods=["POST"])
def predict():
    features = request.get_json(force=True)["features"]
    prediction = model.predict(np.array([features]))
    return jsonify({"prediction": int(prediction[0])})


server = make_server("127.0.0.1", 0, app, threaded=True)
print(json.dumps({"msg": "serving", "port": server.socket.getsockname()[1]}), flush=True)
server.serve_forever()
