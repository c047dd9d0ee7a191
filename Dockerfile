# The Quantum.DX image: `qdx` is the entrypoint, so `docker run IMAGE migrate` runs
# `qdx migrate`. compose.yaml builds it for the migrate, app and worker services.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
# Editable on purpose: the code finds sql/ and migrations/ relative to its source tree.
RUN pip install --no-cache-dir -e . \
    && useradd --system --create-home --home-dir /home/qdx --uid 10001 qdx

USER qdx
# Only used without DATABASE_URL (the embedded PostgreSQL keeps its data here); /app is
# not writable by this user.
ENV QDX_HOME=/home/qdx/.qdx

EXPOSE 8000
ENTRYPOINT ["qdx"]
CMD ["serve", "--host", "0.0.0.0"]
