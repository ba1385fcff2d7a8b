FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY dripper ./dripper
RUN pip install .
COPY web.py worker.py gunicorn.conf.py ./
COPY lessons ./lessons
RUN useradd --system --home /app dripper && chown -R dripper /app
USER dripper
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "web:app"]
