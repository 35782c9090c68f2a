// The engine's worker: owns the GPUDevice; the page reaches it only through EngineApi (comlink).
import { expose } from 'comlink';
import { createEngine } from './engine';

expose(createEngine());
